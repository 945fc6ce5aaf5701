"""Fixtures: a real Dovecot on 127.0.0.1 (shared, plus private ones for disruptive tests)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import pytest

from connectors.imap import ImapConnector
from connectors.mail.imap_config import ImapConfig
from tests.connectors.imap.dovecot import PASSWORD, USER, Dovecot, DovecotMissing

_counter = itertools.count()


def _server() -> Dovecot:
    try:
        server = Dovecot()
    except DovecotMissing as exc:  # never skip: a missing server is a broken test environment
        pytest.fail(str(exc), pytrace=False)
    server.start()
    return server


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    server = _server()
    yield server
    server.cleanup()


@pytest.fixture
def own_dovecot() -> Iterator[Dovecot]:
    """A private server, for tests that restart it or renumber folders."""
    server = _server()
    yield server
    server.cleanup()


def make_mail(
    number: int,
    *,
    subject: str = "订单问题",
    body: str = "您好，我的订单还没有发货，请尽快处理。",
    charset: str = "utf-8",
    extra: dict[str, str] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"客户{number} <customer{number}@example.com>"
    msg["To"] = "support@example.com"
    msg["Subject"] = f"{subject} #{number}"
    msg["Message-ID"] = f"<m{number}.{next(_counter)}@test.example>"
    msg["Date"] = format_datetime(datetime(2024, 5, 1, 8, 0, tzinfo=UTC) + timedelta(minutes=number))
    for key, value in (extra or {}).items():
        msg[key] = value
    msg.set_content(f"{body}\n编号 {number}", charset=charset)
    return msg.as_bytes()


@pytest.fixture
def folder(dovecot: Dovecot, request: pytest.FixtureRequest) -> str:
    name = f"t{next(_counter)}-{request.node.name[:20]}".replace("[", "-").replace("]", "")
    name = "".join(c if c.isalnum() or c == "-" else "-" for c in name)
    dovecot.create_folder(name)
    return name


def config_for(server: Dovecot, folders: tuple[str, ...], **overrides: Any) -> ImapConfig:
    settings: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": "plain",
        "username": USER,
        "password": PASSWORD,
        "folders": folders,
        "connect_timeout": 5,
        "read_timeout": 10,
        "retries": 8,
        "backoff_initial": 0.05,
        "backoff_max": 0.5,
    }
    settings.update(overrides)
    return ImapConfig.model_validate(settings)


@pytest.fixture
def make_connector() -> Iterator[Callable[..., ImapConnector]]:
    made: list[ImapConnector] = []

    def build(
        server: Dovecot, folders: tuple[str, ...], name: str = "support-mail", **over: Any
    ) -> ImapConnector:
        connector = ImapConnector(name, config_for(server, folders, **over))
        made.append(connector)
        return connector

    yield build
    for connector in made:
        connector.close()
