"""Signed acknowledge links: GET confirms, POST acts, tampered or expired links are refused."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from monitor.alerts.links import LinkSigner
from monitor.alerts.outbox import Outbox
from monitor.alerts.senders.registry import sender_class
from monitor.config import AlertsConfig
from monitor.message import Batch
from monitor.pipeline import process_batch
from monitor.storage.db import Database
from monitor.storage.models import Alert, Incident, utcnow
from monitor.stories.settings import StoriesSettings
from monitor.targets import TargetConfig
from monitor.tickets.incident_settings import IncidentsConfig, SpikeRule
from tests.helpers.builders import KeywordStub, message
from tests.helpers.context import context, settings
from tests.helpers.http import ack_server

ANALYZER = KeywordStub({"投诉": ("L2", True)})


def open_incident(db: Database, signer: LinkSigner) -> tuple[StoriesSettings, dict[str, str]]:
    """One incident paged to ``pr``; the links the outbox puts in that page (``Outbox.links``)."""
    stories = settings(
        [TargetConfig(name="pr", kind="console")],
        incidents=IncidentsConfig(spikes=[SpikeRule(min_count=3, priority="L1")]),
    )
    batch = Batch(tuple(message(f"m{i}", f"t{i}", "这家店太差了我要投诉退款") for i in range(3)), {})
    process_batch(context(db, ANALYZER, stories=stories), "src", "files", batch)
    outbox = Outbox(db, {"pr": sender_class("console")("pr", None)}, AlertsConfig(), instance="t", links=signer)
    with db.read() as session:
        row = session.scalars(select(Alert)).one()
        payload = outbox._outgoing(row, outbox.senders["pr"])
    return stories, payload


def call(url: str, *, post: bool = False, data: bytes = b"") -> tuple[int, str]:
    request = urllib.request.Request(url, data=data if post else None, method="POST" if post else "GET")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def server(sqlite_db: Database):  # type: ignore[no-untyped-def]
    signer = LinkSigner(b"k" * 32, "http://placeholder")
    paging, payload = open_incident(sqlite_db, signer)
    srv = ack_server(sqlite_db, signer, lambda: paging)
    yield srv, payload
    srv.stop()


def local(url: str, port: int) -> str:
    parts = urlsplit(url)
    return f"http://127.0.0.1:{port}{parts.path}?{parts.query}"


def state(db: Database) -> str:
    with db.read() as session:
        return str(session.scalar(select(Incident.state)))


def test_get_only_confirms_post_acknowledges(server, sqlite_db: Database) -> None:  # type: ignore[no-untyped-def]
    srv, payload = server
    url = local(payload["ack_url"], srv.port)
    status, page = call(url)
    assert status == 200 and '<form method="post"' in page
    assert state(sqlite_db) == "open"
    status, page = call(url, post=True)
    assert status == 200 and "INC-1: acknowledged" in page
    assert state(sqlite_db) == "acknowledged"
    status, page = call(url, post=True)
    assert "already" in page


@pytest.mark.parametrize(
    "mutation", ["sig", "code", "exp", "action"], ids=["signature", "code", "expiry", "action"]
)
def test_tampered_links_are_refused(server, sqlite_db: Database, mutation: str) -> None:  # type: ignore[no-untyped-def]
    srv, payload = server
    url = local(payload["ack_url"], srv.port)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    if mutation == "action":
        url = url.replace("/ack?", "/resolve?")
    else:
        query[mutation] = {"sig": "0" * 64, "code": "INC-2", "exp": str(int(query["exp"]) + 10)}[mutation]
        url = f"http://127.0.0.1:{srv.port}/ack?" + "&".join(f"{k}={v}" for k, v in query.items())
    assert call(url, post=True)[0] == 403
    assert state(sqlite_db) == "open"


def test_expired_link_is_refused(sqlite_db: Database) -> None:
    signer = LinkSigner(b"k" * 32, "http://placeholder", ttl=timedelta(hours=1))
    paging, payload = open_incident(sqlite_db, signer)
    srv = ack_server(sqlite_db, signer, lambda: paging, clock=lambda: utcnow() + timedelta(hours=2))
    try:
        status, page = call(local(payload["resolve_url"], srv.port), post=True)
    finally:
        srv.stop()
    assert status == 403 and "expired" in page
