"""Any service apprise knows (``apprise`` kind): one URL, text body.

apprise reports only success or failure, so every failure is a RETRY (the outbox gives up after
``max_attempts``); use the dedicated kinds (wecom, dingtalk, feishu, slack, telegram, webhook,
email) where ok / retry / fatal must be told apart.
"""

from __future__ import annotations

from typing import Any, ClassVar

import apprise
from pydantic import SecretStr

from monitor.alerts.render import render
from monitor.alerts.senders.base import Outcome, Sender, SenderConfig, SendResult


class AppriseConfig(SenderConfig):
    url: SecretStr


class AppriseSender(Sender):
    kind: ClassVar[str] = "apprise"
    Config = AppriseConfig

    def check(self) -> list[str]:
        """apprise cannot reach a service without notifying it; only the URL is checked."""
        config = self.config
        assert isinstance(config, AppriseConfig)
        ok = apprise.Apprise().add(config.url.get_secret_value())
        return [] if ok else ["apprise does not understand the URL"]

    def send(self, payload: dict[str, Any]) -> SendResult:
        config = self.config
        assert isinstance(config, AppriseConfig)
        client = apprise.Apprise()
        if not client.add(config.url.get_secret_value()):
            return SendResult(Outcome.FATAL, "apprise does not understand the URL")
        body = render("text", payload)
        title, _, rest = body.partition("\n")
        ok = client.notify(body=rest or title, title=title)
        return SendResult.ok() if ok else SendResult(Outcome.RETRY, "apprise reported a failure")
