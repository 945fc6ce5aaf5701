"""Telegram bot ``sendMessage`` (HTML parse mode); 429 carries ``parameters.retry_after``."""

from __future__ import annotations

from typing import Any, ClassVar

import requests
from pydantic import SecretStr

from monitor.alerts.render import render
from monitor.alerts.senders.base import Outcome, SendResult
from monitor.alerts.senders.http import HttpRequest, HttpSender, HttpSenderConfig, json_or_empty


class TelegramConfig(HttpSenderConfig):
    bot_token: SecretStr
    chat_id: str
    base_url: str = "https://api.telegram.org"


class TelegramSender(HttpSender):
    kind: ClassVar[str] = "telegram"
    Config = TelegramConfig

    def request(self, payload: dict[str, Any]) -> HttpRequest:
        config = self.config
        assert isinstance(config, TelegramConfig)
        url = f"{config.base_url.rstrip('/')}/bot{config.bot_token.get_secret_value()}/sendMessage"
        body = {
            "chat_id": config.chat_id,
            "text": render("telegram", payload)[:4096],
            "parse_mode": "HTML",
            "disable_web_page_preview": True,
        }
        return HttpRequest(url, body)

    def body_result(self, response: requests.Response) -> SendResult:
        data = json_or_empty(response)
        if data.get("ok", True):
            return SendResult.ok()
        retry = (data.get("parameters") or {}).get("retry_after")
        return SendResult(Outcome.RETRY if retry else Outcome.FATAL, str(data.get("description", "")), retry)
