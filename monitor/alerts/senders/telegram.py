"""Telegram bot ``sendMessage`` (HTML parse mode); 429 carries ``parameters.retry_after``."""

from __future__ import annotations

from typing import Any, ClassVar

import requests
from pydantic import SecretStr

from monitor.alerts.render import render
from monitor.alerts.senders.base import Outcome, SendResult
from monitor.alerts.senders.http import HttpRequest, HttpSender, HttpSenderConfig, json_or_empty, mask_url
from monitor.netpolicy import Verdict, classify_status


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

    def check(self) -> list[str]:
        """``getMe``: Telegram's dry request - checks the bot token without sending anything."""
        config = self.config
        assert isinstance(config, TelegramConfig)
        url = f"{config.base_url.rstrip('/')}/bot{config.bot_token.get_secret_value()}/getMe"
        try:
            response = self.session.get(
                url, timeout=(config.connect_timeout_seconds, config.read_timeout_seconds), verify=config.verify_tls
            )
        except requests.RequestException as exc:
            return [f"无法连接 cannot reach {mask_url(url)}: {type(exc).__name__}"]
        verdict = classify_status(response.status_code, url_is_credential=True)
        if verdict is Verdict.AUTH:
            return [f"bot token 被拒绝 rejected (HTTP {response.status_code})"]
        if verdict is not Verdict.OK or not json_or_empty(response).get("ok"):
            return [f"getMe failed: HTTP {response.status_code} {response.text[:100]}"]
        return []

    def body_result(self, response: requests.Response) -> SendResult:
        data = json_or_empty(response)
        if data.get("ok", True):
            return SendResult.ok()
        retry = (data.get("parameters") or {}).get("retry_after")
        return SendResult(Outcome.RETRY if retry else Outcome.FATAL, str(data.get("description", "")), retry)
