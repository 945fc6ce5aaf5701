"""WeCom (企业微信) group robot: markdown message, mentions as ``<@userid>``."""

from __future__ import annotations

from typing import Any, ClassVar

import requests
from pydantic import SecretStr

from monitor.alerts.render import render
from monitor.alerts.senders.base import Outcome, SendResult
from monitor.alerts.senders.http import HttpRequest, HttpSender, HttpSenderConfig, json_or_empty

RATE_LIMITED = {45009, 45033}  # api freq out of limit, too many concurrent calls
AUTH_FAILED = {93000}  # invalid webhook url: the key is wrong or the robot was removed
MAX_BYTES = 4096


class WecomConfig(HttpSenderConfig):
    key: SecretStr
    base_url: str = "https://qyapi.weixin.qq.com"


class WecomSender(HttpSender):
    kind: ClassVar[str] = "wecom"
    Config = WecomConfig

    def request(self, payload: dict[str, Any]) -> HttpRequest:
        config = self.config
        assert isinstance(config, WecomConfig)
        content = render("markdown", payload, mention=lambda m: f"<@{m}>")
        content = content.encode("utf-8")[:MAX_BYTES].decode("utf-8", "ignore")
        url = f"{config.base_url.rstrip('/')}/cgi-bin/webhook/send?key={config.key.get_secret_value()}"
        return HttpRequest(url, {"msgtype": "markdown", "markdown": {"content": content}})

    def body_result(self, response: requests.Response) -> SendResult:
        code = json_or_empty(response).get("errcode", 0)
        if code == 0:
            return SendResult.ok()
        outcome = Outcome.RETRY if code in RATE_LIMITED or code == -1 else Outcome.FATAL
        outcome = Outcome.AUTH if code in AUTH_FAILED else outcome
        return SendResult(outcome, f"wecom errcode {code}: {json_or_empty(response).get('errmsg', '')}")
