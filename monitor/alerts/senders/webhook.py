"""Generic JSON webhook: the alert payload itself, signed with HMAC-SHA256 when a secret is set.

Headers: ``Idempotency-Key`` (incident x target x step) and ``X-Yuqing-Signature: sha256=<hex>``
over the exact body bytes, so a receiver can both authenticate and deduplicate.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, ClassVar

from pydantic import SecretStr

from monitor.alerts.senders.http import HttpRequest, HttpSender, HttpSenderConfig, body_bytes


class WebhookConfig(HttpSenderConfig):
    url: SecretStr
    secret: SecretStr | None = None


class WebhookSender(HttpSender):
    kind: ClassVar[str] = "webhook"
    Config = WebhookConfig

    def request(self, payload: dict[str, Any]) -> HttpRequest:
        config = self.config
        assert isinstance(config, WebhookConfig)
        headers: dict[str, str] = {}
        if config.secret is not None:
            digest = hmac.new(config.secret.get_secret_value().encode(), body_bytes(payload), hashlib.sha256)
            headers["X-Yuqing-Signature"] = f"sha256={digest.hexdigest()}"
        return HttpRequest(config.url.get_secret_value(), payload, headers)
