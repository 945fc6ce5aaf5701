"""E-mail over SMTP (STARTTLS, SSL or plain for local relays), Chinese-first text body.

The ``Message-ID`` is derived from the idempotency key, and the key is also sent as
``X-Yuqing-Idempotency-Key``: a mail system or a person can recognise a re-send after a crash.
SMTP 4xx answers and connection failures are RETRY; 530/534/535 (authentication) AUTH; other 5xx
FATAL.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr

from monitor.alerts.render import render
from monitor.alerts.senders.base import Outcome, Sender, SenderConfig, SendResult
from monitor.tickets.service import ticket_subject

SMTP_AUTH_FAILED = {530, 534, 535}  # authentication required / mechanism too weak / credentials invalid


class EmailConfig(SenderConfig):
    host: str
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    timeout_seconds: float = Field(15.0, gt=0, le=120)
    subject_prefix: str = "[yuqing]"


class EmailSender(Sender):
    kind: ClassVar[str] = "email"
    Config = EmailConfig
    group_chat = False  # addressed to named staff

    def build(self, payload: dict[str, Any]) -> EmailMessage:
        config = self.config
        assert isinstance(config, EmailConfig)
        body = render("text", payload)
        message = EmailMessage()
        subject = f"{config.subject_prefix} {body.splitlines()[0] if body else 'alert'}"
        message["Subject"] = ticket_subject(subject, payload.get("ticket"))[:250]
        message["From"] = config.sender
        message["To"] = ", ".join(config.to)
        message["Date"] = formatdate(localtime=False)
        key = str(payload.get("idempotency_key") or payload.get("id"))
        domain = config.sender.rpartition("@")[2] or "yuqing.local"
        message["Message-ID"] = f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"
        message["X-Yuqing-Idempotency-Key"] = key
        message.set_content(body, charset="utf-8")
        return message

    def longest_send_seconds(self) -> float:
        config = self.config
        assert isinstance(config, EmailConfig)
        return 4 * config.timeout_seconds  # connect, STARTTLS, login, DATA: each its own timeout

    def _session(self) -> smtplib.SMTP:
        """A connected client, TLS set up and logged in as configured."""
        config = self.config
        assert isinstance(config, EmailConfig)
        if config.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout_seconds, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds)
        try:
            if config.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if config.username and config.password is not None:
                client.login(config.username, config.password.get_secret_value())
        except BaseException:
            client.close()
            raise
        return client

    def check(self) -> list[str]:
        """Connect, STARTTLS/SSL and log in, then QUIT: the credentials are tried, nothing is sent."""
        result = self._outcome(lambda: self._session().quit())
        return [] if result.outcome is Outcome.OK else [result.detail]

    def send(self, payload: dict[str, Any]) -> SendResult:
        message = self.build(payload)

        def deliver() -> None:
            with self._session() as client:
                client.send_message(message)

        return self._outcome(deliver)

    def send_message(self, message: EmailMessage) -> SendResult:
        """Send a message built elsewhere (a customer follow-up) through this target's SMTP server."""

        def deliver() -> None:
            with self._session() as client:
                client.send_message(message)

        return self._outcome(deliver)

    def _outcome(self, action: Callable[[], object]) -> SendResult:
        config = self.config
        assert isinstance(config, EmailConfig)
        try:
            action()
        except smtplib.SMTPResponseException as exc:
            outcome = Outcome.RETRY if 400 <= exc.smtp_code < 500 else Outcome.FATAL
            outcome = Outcome.AUTH if exc.smtp_code in SMTP_AUTH_FAILED else outcome
            return SendResult(outcome, f"SMTP {exc.smtp_code} from {config.host}")
        except smtplib.SMTPRecipientsRefused as exc:
            return SendResult(Outcome.FATAL, f"recipients refused: {sorted(exc.recipients)}")
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            return SendResult(Outcome.RETRY, f"{type(exc).__name__} talking to {config.host}:{config.port}")
        return SendResult.ok()
