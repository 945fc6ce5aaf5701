"""DingTalk (钉钉) custom robot: markdown with @mobiles, optional signing secret (加签)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import quote_plus

import requests
from pydantic import SecretStr

from monitor.alerts.render import render
from monitor.alerts.senders.base import Outcome, SendResult
from monitor.alerts.senders.http import HttpRequest, HttpSender, HttpSenderConfig, json_or_empty

RATE_LIMITED = {130101, 660026}  # send too fast / flow control
AUTH_FAILED = {300001, 310000}  # token does not exist / signature, keyword or IP check failed


class DingtalkConfig(HttpSenderConfig):
    access_token: SecretStr
    secret: SecretStr | None = None
    base_url: str = "https://oapi.dingtalk.com"


def sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


class DingtalkSender(HttpSender):
    kind: ClassVar[str] = "dingtalk"
    Config = DingtalkConfig
    clock: Callable[[], float] = time.time

    def request(self, payload: dict[str, Any]) -> HttpRequest:
        config = self.config
        assert isinstance(config, DingtalkConfig)
        mobiles = [r["mention"] for r in payload.get("recipients") or [] if r.get("mention")]
        text = render("markdown", payload, mention=lambda m: f"@{m}")
        url = (
            f"{config.base_url.rstrip('/')}/robot/send?access_token={config.access_token.get_secret_value()}"
        )
        if config.secret is not None:
            now = int(self.clock() * 1000)
            url += f"&timestamp={now}&sign={sign(config.secret.get_secret_value(), now)}"
        title = text.splitlines()[0].lstrip("# ")[:60] if text else "yuqing"
        body = {
            "msgtype": "markdown",
            "markdown": {"title": title, "text": text},
            "at": {"atMobiles": mobiles, "isAtAll": False},
        }
        return HttpRequest(url, body)

    def body_result(self, response: requests.Response) -> SendResult:
        data = json_or_empty(response)
        code = data.get("errcode", 0)
        if code == 0:
            return SendResult.ok()
        outcome = Outcome.RETRY if code in RATE_LIMITED or code == -1 else Outcome.FATAL
        outcome = Outcome.AUTH if code in AUTH_FAILED else outcome
        return SendResult(outcome, f"dingtalk errcode {code}: {data.get('errmsg', '')}")
