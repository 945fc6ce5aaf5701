"""A receiver that hangs holds back only its own target: each target is sent on a lane of its own.

Real webhook receivers on 127.0.0.1: ``/slow`` holds every request until the test releases it
(longer than the test would ever wait), ``/fast`` answers at once. The fast target gets all its
alerts - also ones committed while the slow send hangs - and the slow target stays at one send
in flight. Per target the alerts arrive in id order, each idempotency key once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from monitor.alerts.outbox import Outbox
from monitor.alerts.senders.base import Sender
from monitor.alerts.senders.registry import sender_class
from monitor.alerts.worker import DeliveryWorker
from monitor.config import AlertsConfig
from monitor.message import Batch
from monitor.pipeline import process_batch
from monitor.storage.db import Database
from monitor.storage.models import Alert
from monitor.targets import TargetConfig
from tests.alerts.test_outbox import ANALYZER
from tests.helpers.builders import message
from tests.helpers.context import context
from tests.helpers.daemon import wait_for

PATIENCE = 30.0  # seconds the test waits for an event; the slow receiver holds until released


@dataclass
class Receivers:
    """Records each POST's idempotency key per path; ``/slow`` holds requests until ``release``."""

    release: threading.Event = field(default_factory=threading.Event)
    pause: float = 0.0  # /slow answers after this long when released (overlap for the race test)
    keys: dict[str, list[str]] = field(default_factory=dict)
    active: dict[str, int] = field(default_factory=dict)
    most_active: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self) -> ThreadingHTTPServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.lock:
                    owner.keys.setdefault(self.path, []).append(self.headers.get("Idempotency-Key", ""))
                    owner.active[self.path] = owner.active.get(self.path, 0) + 1
                    owner.most_active[self.path] = max(
                        owner.most_active.get(self.path, 0), owner.active[self.path]
                    )
                if self.path == "/slow":
                    owner.release.wait(120)
                    if owner.pause:
                        threading.Event().wait(owner.pause)
                with owner.lock:
                    owner.active[self.path] -= 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def got(self, path: str) -> list[str]:
        with self.lock:
            return list(self.keys.get(path, []))


@pytest.fixture
def receivers() -> Iterator[tuple[Receivers, str]]:
    r = Receivers()
    server = r.serve()
    try:
        yield r, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        r.release.set()
        server.shutdown()
        server.server_close()


TARGETS = [TargetConfig(name="fast", kind="console"), TargetConfig(name="slow", kind="console")]


def senders(url: str) -> dict[str, Sender]:
    cls = sender_class("webhook")
    settings: dict[str, Any] = {"read_timeout_seconds": 110}
    return {
        name: cls(name, cls.Config.model_validate({"url": f"{url}/{name}", **settings}))
        for name in ("fast", "slow")
    }


def seed(db: Database, first: int, count: int) -> int:
    """``count`` urgent messages on threads of their own: one ticket alert per target each."""
    batch = Batch(tuple(message(f"m{i}", f"t{i}", f"紧急 {i}") for i in range(first, first + count)), {})
    return process_batch(context(db, ANALYZER, TARGETS), "src", "files", batch).alerts


def expected_keys(db: Database, target: str) -> list[str]:
    with db.read() as session:
        rows = session.execute(select(Alert.dedupe_key).where(Alert.target == target).order_by(Alert.id))
        return [f"{key}@{target}" for (key,) in rows]


def rows(db: Database, target: str) -> list[tuple[str, str | None]]:
    with db.read() as session:
        found = session.execute(
            select(Alert.status, Alert.claimed_by).where(Alert.target == target).order_by(Alert.id)
        )
        return [(status, claimed) for status, claimed in found]


def test_a_hanging_target_does_not_delay_the_others(
    any_db: Database, receivers: tuple[Receivers, str]
) -> None:
    r, url = receivers
    seed(any_db, 0, 4)
    outbox = Outbox(any_db, senders(url), AlertsConfig(), instance="a")
    handoff = any_db.engine.dialect.name == "sqlite"
    worker = DeliveryWorker(lambda: outbox, 0.2, handoff=handoff).start()
    try:
        worker.kick()
        wait_for(lambda: len(r.got("/fast")) == 4, PATIENCE, what="/fast to get its first 4 alerts")
        assert len(r.got("/slow")) == 1, "the slow target has one send in flight, the rest wait"
        # a new page committed while /slow still hangs reaches /fast too (the daemon's wiring)
        worker.after_commit(seed(any_db, 4, 2))
        wait_for(lambda: len(r.got("/fast")) == 6, PATIENCE, what="/fast to get the 2 new alerts")
        wait_for(
            lambda: rows(any_db, "fast") == [("sent", None)] * 6, PATIENCE, what="/fast outcomes recorded"
        )
        assert not r.release.is_set() and len(r.got("/slow")) == 1
        assert rows(any_db, "slow") == [("pending", "a")] + [("pending", None)] * 5
        r.release.set()
        wait_for(lambda: rows(any_db, "slow") == [("sent", None)] * 6, PATIENCE, what="/slow to catch up")
    finally:
        worker.stop(PATIENCE)
    for target in ("fast", "slow"):
        assert r.got(f"/{target}") == expected_keys(any_db, target), "in id order, each key once"
        assert r.most_active[f"/{target}"] == 1, "one send at a time per target"


def test_two_instances_send_each_alert_once_in_order_per_target(
    any_db: Database, receivers: tuple[Receivers, str]
) -> None:
    r, url = receivers
    r.release.set()
    r.pause = 0.02  # /slow answers after a pause: both instances are busy at the same time
    seed(any_db, 0, 8)
    boxes = [Outbox(any_db, senders(url), AlertsConfig(), instance=name) for name in ("a", "b")]
    threads = [threading.Thread(target=box.deliver) for box in boxes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE)
    for box in boxes:  # what one loop left to the other (it was busy) is sent by a second pass
        box.deliver()
    for target in ("fast", "slow"):
        assert rows(any_db, target) == [("sent", None)] * 8
        assert r.got(f"/{target}") == expected_keys(any_db, target), "in id order, each key once"
        assert r.most_active[f"/{target}"] == 1, "one send at a time per target, across instances"
