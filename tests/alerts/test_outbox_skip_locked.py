"""Several instances drain one outbox on PostgreSQL and MariaDB with ``FOR UPDATE SKIP LOCKED``.

A row another instance is claiming at this moment is passed over, not waited for; and while a
target's oldest row is being claimed elsewhere, that target's younger rows are not sent either
(one send per target at a time, in order).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from monitor.alerts.outbox import Outbox
from monitor.config import AlertsConfig
from monitor.storage.db import Database
from monitor.storage.models import Alert
from tests.alerts.test_outbox import Recorder, seed
from tests.conftest import _server_db


@pytest.fixture(params=["postgresql", "mariadb"])
def server_db(request: pytest.FixtureRequest) -> Iterator[Database]:
    yield from _server_db(request.param)


def ids(db: Database, target: str) -> list[int]:
    with db.read() as session:
        return list(session.scalars(select(Alert.id).where(Alert.target == target).order_by(Alert.id)))


def test_rows_being_claimed_elsewhere_are_skipped_and_their_target_waits(server_db: Database) -> None:
    seed(server_db, 2, target="x")
    with server_db.transaction() as session:  # target y gets the same two notices
        for row in list(session.scalars(select(Alert).where(Alert.target == "x").order_by(Alert.id))):
            copied = {c: getattr(row, c) for c in ("dedupe_key", "kind", "priority", "payload", "next_attempt_at")}
            session.add(Alert(target="y", **copied))
    x_rows, y_rows = ids(server_db, "x"), ids(server_db, "y")
    outbox = Outbox(server_db, {"x": Recorder("x"), "y": Recorder("y")}, AlertsConfig(), instance="b")
    claimed: list[int] = []
    with server_db.transaction() as other:  # instance a is in the middle of claiming x's oldest row
        other.execute(select(Alert).where(Alert.id == x_rows[0]).with_for_update())
        worker = threading.Thread(target=lambda: claimed.extend(r.id for r in outbox._claim(10)))
        worker.start()
        worker.join(10)
        assert not worker.is_alive(), "the claim must skip the locked row, not wait for it"
    assert claimed == [y_rows[0]], "y's oldest row only; x waits for a's claim, its younger row is not sent"
    assert [r.id for r in outbox._claim(10)] == [x_rows[0]]  # a gave up: x's oldest row is next
