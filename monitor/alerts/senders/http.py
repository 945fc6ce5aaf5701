"""Network policy for webhook senders, in one base class (timeouts, status mapping, masking).

Why not apprise for these kinds: ``apprise.notify()`` returns a bool, so a 429 or 503 (retry
later) cannot be told from a 401/403 or a revoked bot key (never works: stop and tell the
operator); its payloads are fixed (no idempotency key, no signed acknowledge links or @mentions the
way we lay them out); and it retries on its own, which fights the outbox's backoff. Each kind here
is a thin ``requests`` call whose whole payload is ours; apprise stays available as the ``apprise``
kind for every other service it knows.

Mapping (:func:`monitor.netpolicy.classify_status`): 2xx -> the provider's own body check
(WeCom/DingTalk/Feishu answer 200 with an error code); 408, 425, 429 and 5xx, timeouts and
connection errors -> RETRY (honouring Retry-After in seconds or as an HTTP date); 401/403, and
404/410 since the URL carries the key or token (a hook that does not exist) -> AUTH (the target
is disabled and the operator told, ``monitor.alerts.senders.guard``); other 4xx -> FATAL.
"""

from __future__ import annotations

import json
import re
import socket
from abc import abstractmethod
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from pydantic import Field

from monitor.alerts.senders.base import Outcome, Sender, SenderConfig, SendResult
from monitor.netpolicy import Verdict, classify_status, parse_retry_after

CHECK_PAYLOAD: dict[str, Any] = {"id": 0, "kind": "operator", "state": "test", "title": "check"}
_SECRETS_IN_URL = re.compile(
    r"(key|access_token|token|sig|sign)=[^&]+|/bot[^/]+|/hook/[^/?]+|/services/[^?]+"
)


class HttpSenderConfig(SenderConfig):
    connect_timeout_seconds: float = Field(3.0, gt=0, le=60)
    read_timeout_seconds: float = Field(10.0, gt=0, le=120)
    verify_tls: bool = True


class HttpRequest:
    """One outgoing POST."""

    def __init__(self, url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.body = body
        self.headers = headers or {}


def mask_url(url: str) -> str:
    """The URL without keys and tokens, for logs."""
    return _SECRETS_IN_URL.sub(
        lambda m: m.group(0).split("=")[0] + "=***" if "=" in m.group(0) else "/***", url
    )


class HttpSender(Sender):
    """POST a JSON body built by the subclass; map the answer to ok / retry / auth / fatal."""

    Config: ClassVar[type[SenderConfig]] = HttpSenderConfig

    def __init__(self, name: str, config: SenderConfig, *, session: requests.Session | None = None) -> None:
        super().__init__(name, config)
        self.session = session or requests.Session()

    @abstractmethod
    def request(self, payload: dict[str, Any]) -> HttpRequest:
        """The provider's request for one alert payload."""

    def body_result(self, response: requests.Response) -> SendResult:
        """Provider check of a 2xx answer (default: a 2xx is delivered)."""
        return SendResult.ok()

    def send(self, payload: dict[str, Any]) -> SendResult:
        req = self.request(payload)
        config = self.config
        assert isinstance(config, HttpSenderConfig)
        headers = {"Content-Type": "application/json; charset=utf-8", **req.headers}
        key = payload.get("idempotency_key")
        if key:
            headers.setdefault("Idempotency-Key", str(key))
        try:
            response = self.session.post(
                req.url,
                data=body_bytes(req.body),
                headers=headers,
                timeout=(config.connect_timeout_seconds, config.read_timeout_seconds),
                verify=config.verify_tls,
            )
        except requests.Timeout:
            return SendResult(Outcome.RETRY, f"timeout posting to {mask_url(req.url)}")
        except requests.RequestException as exc:
            return SendResult(Outcome.RETRY, f"{type(exc).__name__} posting to {mask_url(req.url)}")
        status = response.status_code
        if 200 <= status < 300:
            return self.body_result(response)
        detail = f"HTTP {status} from {mask_url(req.url)}: {response.text[:200]}"
        verdict = classify_status(status, url_is_credential=True)
        if verdict is Verdict.RETRY:
            return SendResult(Outcome.RETRY, detail, parse_retry_after(response.headers.get("Retry-After")))
        return SendResult(Outcome.AUTH if verdict is Verdict.AUTH else Outcome.FATAL, detail)

    def check(self) -> list[str]:
        """Resolve and TCP-connect to the endpoint (nothing is posted)."""
        config = self.config
        assert isinstance(config, HttpSenderConfig)
        return reachable(self.request(CHECK_PAYLOAD).url, timeout=config.connect_timeout_seconds)

    def longest_send_seconds(self) -> float:
        config = self.config
        assert isinstance(config, HttpSenderConfig)
        return config.connect_timeout_seconds + config.read_timeout_seconds

    def close(self) -> None:
        self.session.close()


def reachable(url: str, *, timeout: float) -> list[str]:
    """Problems reaching ``url``'s host and port (DNS, TCP connect), without sending a request."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [f"not an http(s) URL: {mask_url(url)}"]
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except socket.gaierror as exc:
        return [f"无法解析 cannot resolve {parts.hostname}: {exc.strerror}"]
    except OSError as exc:
        return [f"无法连接 cannot connect to {parts.hostname}:{port}: {exc.strerror or type(exc).__name__}"]
    return []


def body_bytes(body: dict[str, Any]) -> bytes:
    """The exact bytes sent (compact, UTF-8, sorted keys): what signatures are computed over."""
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def json_or_empty(response: requests.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
