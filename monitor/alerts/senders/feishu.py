"""Feishu / Lark (飞书) custom bot: text message, optional signature (签名校验)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any, ClassVar

import requests
from pydantic import SecretStr

from monitor.alerts.render import render
from monitor.alerts.senders.base import Outcome, SendResult
from monitor.alerts.senders.http import HttpRequest, HttpSender, HttpSenderConfig, json_or_empty

RATE_LIMITED = {9499, 11232}  # too many requests / frequency limited
AUTH_FAILED = {19021, 19022}  # signature check failed / IP not allowed


class FeishuConfig(HttpSenderConfig):
    token: SecretStr
    secret: SecretStr | None = None
    base_url: str = "https://open.feishu.cn"
    """``https://open.larksuite.com`` for Lark."""


def sign(secret: str, timestamp: int) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class FeishuSender(HttpSender):
    kind: ClassVar[str] = "feishu"
    Config = FeishuConfig
    clock: Callable[[], float] = time.time

    def request(self, payload: dict[str, Any]) -> HttpRequest:
        config = self.config
        assert isinstance(config, FeishuConfig)
        text = render("text", payload, mention=lambda m: f'<at user_id="{m}"></at>')
        for person in payload.get("recipients") or []:
            if person.get("mention"):
                text += f'\n<at user_id="{person["mention"]}">{person.get("name", "")}</at>'
        body: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
        if config.secret is not None:
            now = int(self.clock())
            body = {"timestamp": str(now), "sign": sign(config.secret.get_secret_value(), now), **body}
        url = f"{config.base_url.rstrip('/')}/open-apis/bot/v2/hook/{config.token.get_secret_value()}"
        return HttpRequest(url, body)

    def body_result(self, response: requests.Response) -> SendResult:
        data = json_or_empty(response)
        code = data.get("code", data.get("StatusCode", 0))
        if code == 0:
            return SendResult.ok()
        outcome = Outcome.RETRY if code in RATE_LIMITED else Outcome.FATAL
        outcome = Outcome.AUTH if code in AUTH_FAILED else outcome
        return SendResult(outcome, f"feishu code {code}: {data.get('msg', data.get('StatusMessage', ''))}")
