"""Built-in senders by kind (explicit, duplicates refused)."""

from __future__ import annotations

import importlib

from monitor.alerts.senders.base import Sender, SenderConfig

_BUILTIN: list[tuple[str, str]] = [
    ("console", "monitor.alerts.senders.console:ConsoleSender"),
    ("jsonl", "monitor.alerts.senders.jsonl:JsonlSender"),
    ("wecom", "monitor.alerts.senders.wecom:WecomSender"),
    ("dingtalk", "monitor.alerts.senders.dingtalk:DingtalkSender"),
    ("feishu", "monitor.alerts.senders.feishu:FeishuSender"),
    ("slack", "monitor.alerts.senders.slack:SlackSender"),
    ("telegram", "monitor.alerts.senders.telegram:TelegramSender"),
    ("webhook", "monitor.alerts.senders.webhook:WebhookSender"),
    ("email", "monitor.alerts.senders.email:EmailSender"),
    ("apprise", "monitor.alerts.senders.apprise_url:AppriseSender"),
]


def _build() -> dict[str, str]:
    registry: dict[str, str] = {}
    for kind, target in _BUILTIN:
        if kind in registry:
            raise RuntimeError(f"sender kind {kind!r} registered twice")
        registry[kind] = target
    return registry


REGISTRY: dict[str, str] = _build()


def sender_class(kind: str) -> type[Sender]:
    module_name, _, class_name = REGISTRY[kind].partition(":")
    cls: type[Sender] = getattr(importlib.import_module(module_name), class_name)
    return cls


def sender_config(kind: str) -> type[SenderConfig]:
    return sender_class(kind).Config
