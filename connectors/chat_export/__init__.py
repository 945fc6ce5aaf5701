"""Chat exports (Telegram, WhatsApp, WeChat, Slack, mapped CSV/JSONL) from a watched folder."""

from __future__ import annotations

from connectors.chat_export.config import ChatExportConfig, GenericMapping
from connectors.chat_export.connector import ChatExportConnector

__all__ = ["ChatExportConfig", "ChatExportConnector", "GenericMapping"]
