"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every mail, parsed."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler


@dataclass
class Inbox:
    port: int
    mails: list[EmailMessage] = field(default_factory=list)


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    inbox = Inbox(port)

    class Keep(MessageHandler):
        def handle_message(self, message: Any) -> None:
            parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            inbox.mails.append(parsed)

    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
