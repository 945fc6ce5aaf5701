"""Slack incoming webhook: text fallback plus a section block, mentions as ``<@U123>``."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import SecretStr

from monitor.alerts.render import render
from monitor.alerts.senders.http import HttpRequest, HttpSender, HttpSenderConfig


class SlackConfig(HttpSenderConfig):
    webhook_url: SecretStr


class SlackSender(HttpSender):
    kind: ClassVar[str] = "slack"
    Config = SlackConfig

    def request(self, payload: dict[str, Any]) -> HttpRequest:
        config = self.config
        assert isinstance(config, SlackConfig)
        text = render("text", payload)
        mentions = " ".join(f"<@{r['mention']}>" for r in payload.get("recipients") or [] if r.get("mention"))
        block_text = f"{mentions}\n{text}".strip()[:2900]
        body = {
            "text": text.splitlines()[0] if text else "yuqing",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": block_text}}],
        }
        return HttpRequest(config.webhook_url.get_secret_value(), body)
