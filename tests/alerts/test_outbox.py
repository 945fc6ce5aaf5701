"""Outbox delivery: sent once, retried with backoff, survives crashes, never sent twice at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import select, update

from monitor.alerts.outbox import Outbox
from monitor.alerts.senders.base import Outcome, Sender, SenderConfig, SendResult
from monitor.alerts.senders.jsonl import JsonlConfig, JsonlSender
from monitor.config import AlertsConfig
from monitor.message import Batch
from monitor.pipeline import process_batch
from monitor.storage.db import Database
from monitor.storage.models import Alert, utcnow
from monitor.targets import TargetConfig
from tests.helpers.builders import KeywordStub, message
from tests.helpers.context import context

ANALYZER = KeywordStub({"紧急": ("L1", True)})


class Recorder(Sender):
    """An in-memory receiver with scripted outcomes (a real sender stands behind the same API)."""

    kind: ClassVar[str] = "recorder"
    Config = SenderConfig

    def __init__(self, name: str, outcomes: list[Outcome] | None = None, *, group_chat: bool = True) -> None:
        super().__init__(name, SenderConfig())
        self.outcomes = outcomes or []
        self.received: list[dict[str, Any]] = []
        self.group_chat = group_chat  # type: ignore[misc]

    def send(self, payload: dict[str, Any]) -> SendResult:
        self.received.append(payload)
        outcome = self.outcomes.pop(0) if self.outcomes else Outcome.OK
        if outcome is Outcome.RETRY and payload.get("explode"):
            raise RuntimeError("sender bug")
        return SendResult(outcome, "scripted")


def seed(db: Database, n: int = 3, text: str = "紧急 {i}", target: str = "rec") -> None:
    batch = Batch(tuple(message(f"m{i}", f"t{i}", text.format(i=i)) for i in range(n)), {})
    process_batch(context(db, ANALYZER, [TargetConfig(name=target, kind="console")]), "src", "files", batch)


def statuses(db: Database) -> list[tuple[str, int]]:
    with db.read() as session:
        return [(a.status, a.attempts) for a in session.scalars(select(Alert).order_by(Alert.id))]


def make_due(db: Database) -> None:
    with db.transaction() as session:
        session.execute(update(Alert).values(next_attempt_at=utcnow()))


def test_pending_alerts_are_sent_once(sqlite_db: Database) -> None:
    seed(sqlite_db)
    recorder = Recorder("rec")
    outbox = Outbox(sqlite_db, {"rec": recorder}, AlertsConfig(), instance="a")
    assert outbox.deliver().sent == 3
    assert outbox.deliver().sent == 0
    assert [p["id"] for p in recorder.received] == [1, 2, 3]
    assert statuses(sqlite_db) == [("sent", 1)] * 3


def test_retry_backs_off_then_delivers(sqlite_db: Database) -> None:
    seed(sqlite_db, 1)
    recorder = Recorder("rec", [Outcome.RETRY, Outcome.OK])
    outbox = Outbox(sqlite_db, {"rec": recorder}, AlertsConfig(retry_base_seconds=60), instance="a")
    stats = outbox.deliver()
    assert (stats.sent, stats.retried) == (0, 1)
    assert outbox.deliver().sent == 0, "not due again before its backoff"
    make_due(sqlite_db)
    assert outbox.deliver().sent == 1
    assert len(recorder.received) == 2
    assert statuses(sqlite_db) == [("sent", 2)]


def test_gives_up_after_max_attempts_and_on_fatal(sqlite_db: Database) -> None:
    seed(sqlite_db, 2)
    recorder = Recorder("rec", [Outcome.FATAL, Outcome.RETRY, Outcome.RETRY])
    outbox = Outbox(sqlite_db, {"rec": recorder}, AlertsConfig(max_attempts=2), instance="a")
    outbox.deliver()
    make_due(sqlite_db)
    outbox.deliver()
    assert statuses(sqlite_db) == [("failed", 1), ("failed", 2)]


def test_a_sender_exception_is_a_retry_not_a_crash(sqlite_db: Database) -> None:
    seed(sqlite_db, 1)

    class Exploding(Recorder):
        def send(self, payload: dict[str, Any]) -> SendResult:
            raise ConnectionError("receiver gone")

    outbox = Outbox(sqlite_db, {"rec": Exploding("rec")}, AlertsConfig(), instance="a")
    assert outbox.deliver().retried == 1
    with sqlite_db.read() as session:
        assert "ConnectionError" in (session.scalar(select(Alert.last_error)) or "")


def test_alert_for_a_removed_target_fails_visibly(sqlite_db: Database) -> None:
    seed(sqlite_db, 1, target="gone")
    outbox = Outbox(sqlite_db, {"rec": Recorder("rec")}, AlertsConfig(), instance="a")
    assert outbox.deliver().failed == 1


def test_claimed_rows_are_invisible_to_another_instance(sqlite_db: Database) -> None:
    seed(sqlite_db, 2)
    first = Outbox(sqlite_db, {"rec": Recorder("rec")}, AlertsConfig(), instance="a")
    claimed = first._claim(10)  # instance a took a row and then died before sending
    assert [r.id for r in claimed] == [1], "one row per target at a time, the oldest first"
    other = Recorder("rec")
    # while the target has a leased row, another instance sends neither it nor the next one
    assert Outbox(sqlite_db, {"rec": other}, AlertsConfig(), instance="b").deliver().sent == 0
    assert other.received == []
    # the same instance restarting takes its claims back at once
    restarted = Recorder("rec")
    outbox = Outbox(sqlite_db, {"rec": restarted}, AlertsConfig(), instance="a")
    assert outbox.release_own_claims() == 1
    assert outbox.deliver().sent == 2
    assert [p["id"] for p in restarted.received] == [1, 2]


def test_group_chat_senders_get_personal_data_masked_but_the_database_keeps_it(sqlite_db: Database) -> None:
    seed(sqlite_db, 1, text="紧急 请回电 13812345678 或 me@example.com")
    chat, local = Recorder("rec"), Recorder("rec", group_chat=False)
    Outbox(sqlite_db, {"rec": chat}, AlertsConfig(), instance="a").deliver()
    assert "13812345678" not in chat.received[0]["excerpt"]
    assert "138****5678" in chat.received[0]["excerpt"]
    assert "m***@example.com" in chat.received[0]["excerpt"]
    with sqlite_db.read() as session:
        assert "13812345678" in session.scalar(select(Alert.payload))["excerpt"]  # type: ignore[index]
    make_due(sqlite_db)
    with sqlite_db.transaction() as session:
        session.execute(update(Alert).values(status="pending"))
    Outbox(sqlite_db, {"rec": local}, AlertsConfig(), instance="a").deliver()
    assert "13812345678" in local.received[0]["excerpt"]


def test_jsonl_sink_writes_each_alert_id_once_even_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    config = JsonlConfig(path=path)
    first = JsonlSender("file", config)
    assert first.send({"id": 1, "text": "a"}).outcome is Outcome.OK
    assert first.send({"id": 1, "text": "a"}).outcome is Outcome.OK
    # a new process (after a crash between write and mark-sent) re-sends id 1
    again = JsonlSender("file", config)
    again.send({"id": 1, "text": "a"})
    again.send({"id": 2, "text": "b"})
    ids = [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]
    assert ids == [1, 2]


def test_jsonl_sink_ignores_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_text('{"id": 1}\n{"id": 2, "te', encoding="utf-8")
    sender = JsonlSender("file", JsonlConfig(path=path))
    sender.send({"id": 1})
    sender.send({"id": 3})
    assert path.read_text(encoding="utf-8").count('"id": 1') == 1


def test_jsonl_sink_starts_a_new_line_after_a_write_that_was_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_text('{"id": 1}\n{"id": 2, "te', encoding="utf-8")  # disk full mid-line
    JsonlSender("file", JsonlConfig(path=path)).send({"id": 3})
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[-1] == '{"id": 3}'
    assert json.loads(lines[-1])["id"] == 3
