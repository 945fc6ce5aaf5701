"""Built-in connectors, registered explicitly by kind (third-party ones may come via entry points)."""

from __future__ import annotations

import importlib
from typing import Any

from connectors.base import Connector

# kind -> "module:Class". Imported lazily so that a source whose client library is heavy (praw,
# tweepy) costs nothing unless it is configured. One line per connector; duplicates are refused.
_BUILTIN: list[tuple[str, str]] = [
    ("maildir", "connectors.maildir:MaildirConnector"),
    ("mbox", "connectors.mbox:MboxConnector"),
    ("files", "connectors.files:FilesConnector"),
    ("imap", "connectors.imap:ImapConnector"),
    ("reddit", "connectors.reddit:RedditConnector"),
    ("twitter", "connectors.twitter:TwitterConnector"),
    ("rss", "connectors.rss:RssConnector"),
    ("chat_export", "connectors.chat_export:ChatExportConnector"),
]


def _build() -> dict[str, str]:
    registry: dict[str, str] = {}
    for kind, target in _BUILTIN:
        if kind in registry:
            raise RuntimeError(f"connector kind {kind!r} registered twice")
        registry[kind] = target
    return registry


REGISTRY: dict[str, str] = _build()


def connector_class(kind: str) -> type[Connector[Any]]:
    """The connector class for a kind; ``KeyError`` if the kind is unknown."""
    module_name, _, class_name = REGISTRY[kind].partition(":")
    cls: type[Connector[Any]] = getattr(importlib.import_module(module_name), class_name)
    if cls.kind != kind:
        raise RuntimeError(f"{REGISTRY[kind]} declares kind {cls.kind!r}, registered as {kind!r}")
    return cls


def kinds() -> list[str]:
    return sorted(REGISTRY)
