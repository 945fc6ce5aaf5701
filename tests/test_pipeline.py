"""The ingest -> ticket -> outbox transaction: exactly once, one ticket per thread, one alert per escalation."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from monitor.message import Batch, Quarantined
from monitor.pipeline import load_checkpoint, process_batch
from monitor.storage.db import Database
from monitor.storage.models import Alert, QuarantineItem, StoredMessage, Ticket, TicketEvent
from monitor.targets import TargetConfig
from tests.helpers.builders import KeywordStub, message
from tests.helpers.context import context

ANALYZER = KeywordStub({"紧急": ("L1", True), "投诉": ("L2", True), "建议": ("L3", False)})
TARGETS = [
    TargetConfig(name="file", kind="jsonl", min_priority="L3"),
    TargetConfig(name="pager", kind="console", min_priority="L1"),
]


def count(db: Database, model: type) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_batch_and_checkpoint_commit_together_and_replay_stores_nothing_twice(any_db: Database) -> None:
    batch = Batch((message("a", "t1"), message("b", "t1"), message("c", "t2")), {"pos": 3})
    first = process_batch(context(any_db, ANALYZER, TARGETS), "src", "files", batch)
    second = process_batch(context(any_db, ANALYZER, TARGETS), "src", "files", batch)
    assert (first.new, first.duplicates, first.tickets) == (3, 0, 2)
    assert (second.new, second.duplicates, second.tickets) == (0, 3, 0)
    assert count(any_db, StoredMessage) == 3
    assert count(any_db, Ticket) == 2
    assert load_checkpoint(any_db, "src") == {"pos": 3}


def test_duplicate_ids_inside_one_batch_are_stored_once(sqlite_db: Database) -> None:
    batch = Batch((message("a"), message("a")), {"pos": 2})
    stats = process_batch(context(sqlite_db, ANALYZER, TARGETS), "src", "files", batch)
    assert (stats.new, stats.duplicates) == (1, 1)


def test_same_external_id_in_two_sources_is_two_messages(sqlite_db: Database) -> None:
    process_batch(context(sqlite_db, ANALYZER, TARGETS), "one", "files", Batch((message("a", source="one"),), {}))
    process_batch(context(sqlite_db, ANALYZER, TARGETS), "two", "files", Batch((message("a", source="two"),), {}))
    assert count(sqlite_db, StoredMessage) == 2


def test_a_failing_batch_stores_nothing_and_keeps_the_old_checkpoint(sqlite_db: Database) -> None:
    process_batch(context(sqlite_db, ANALYZER, TARGETS), "src", "files", Batch((message("a"),), {"pos": 1}))

    def broken(msg):  # type: ignore[no-untyped-def]
        if msg.external_id == "c":
            raise RuntimeError("boom")
        return ANALYZER(msg)

    with pytest.raises(RuntimeError):
        process_batch(context(sqlite_db, broken, TARGETS), "src", "files", Batch((message("b"), message("c")), {"pos": 3}))
    assert count(sqlite_db, StoredMessage) == 1
    assert load_checkpoint(sqlite_db, "src") == {"pos": 1}


def test_messages_of_one_thread_share_a_ticket_across_batches_with_an_audit_trail(any_db: Database) -> None:
    process_batch(context(any_db, ANALYZER, TARGETS), "src", "files", Batch((message("a", "t1", "你好"),), {}))
    process_batch(context(any_db, ANALYZER, TARGETS), "src", "files", Batch((message("b", "t1", "我要投诉"),), {}))
    with any_db.read() as session:
        tickets = list(session.scalars(select(Ticket)))
        assert len(tickets) == 1
        ticket = tickets[0]
        assert re.fullmatch(r"Q\d{6}", ticket.code or "")
        assert ticket.priority == "L2"
        assert ticket.status == "received"
        kinds = [e.kind for e in session.scalars(select(TicketEvent).order_by(TicketEvent.id))]
        assert kinds == ["created", "message", "message", "priority"]
        assert {m.ticket_id for m in session.scalars(select(StoredMessage))} == {ticket.id}


def test_ticket_codes_are_sequential_and_unique(sqlite_db: Database) -> None:
    batch = Batch(tuple(message(f"m{i}", f"t{i}") for i in range(12)), {})
    process_batch(context(sqlite_db, ANALYZER, TARGETS), "src", "files", batch)
    with sqlite_db.read() as session:
        codes = list(session.scalars(select(Ticket.code).order_by(Ticket.id)))
    assert codes == [f"Q{i:06d}" for i in range(1, 13)]


def test_alert_written_once_per_ticket_and_priority_for_the_targets_that_want_it(any_db: Database) -> None:
    process_batch(context(any_db, ANALYZER, TARGETS), "src", "files", Batch((message("a", "t1", "我要投诉"),), {}))
    process_batch(context(any_db, ANALYZER, TARGETS), "src", "files", Batch((message("b", "t1", "再次投诉"),), {}))
    process_batch(context(any_db, ANALYZER, TARGETS), "src", "files", Batch((message("c", "t1", "紧急!"),), {}))
    process_batch(context(any_db, ANALYZER, TARGETS), "src", "files", Batch((message("d", "t1", "还是紧急"),), {}))
    with any_db.read() as session:
        rows = [(a.priority, a.target, a.status) for a in session.scalars(select(Alert).order_by(Alert.id))]
    # L2 complaint: only the L3-and-up target; escalation to L1: both targets; repeats: nothing
    assert rows == [("L2", "file", "pending"), ("L1", "file", "pending"), ("L1", "pager", "pending")]


def test_non_alerting_findings_set_priority_without_paging(sqlite_db: Database) -> None:
    stats = process_batch(context(sqlite_db, ANALYZER, TARGETS), "src", "files", Batch((message("a", "t1", "一点建议"),), {}))
    assert stats.alerts == 0
    with sqlite_db.read() as session:
        assert session.scalar(select(Ticket.priority)) == "L3"


def test_quarantined_items_are_stored_with_raw_bytes_and_reason(sqlite_db: Database) -> None:
    bad = Quarantined("src", "invalid JSON", b"\xff{broken", raw_ref="f.jsonl@0")
    stats = process_batch(context(sqlite_db, ANALYZER, TARGETS), "src", "files", Batch((message("a"),), {"pos": 2}, (bad,)))
    assert stats.quarantined == 1
    with sqlite_db.read() as session:
        item = session.scalar(select(QuarantineItem))
        assert item is not None
        assert (item.reason, item.raw, item.raw_size, item.raw_ref) == (
            "invalid JSON",
            b"\xff{broken",
            8,
            "f.jsonl@0",
        )


def test_alert_payload_carries_ticket_text_and_rule(sqlite_db: Database) -> None:
    process_batch(context(sqlite_db, ANALYZER, TARGETS), "src", "files", Batch((message("a", "t9", "设备紧急故障", title="求助"),), {}))
    with sqlite_db.read() as session:
        alert = session.scalar(select(Alert).where(Alert.target == "pager"))
        assert alert is not None
        payload = alert.payload
    assert payload["ticket"] == "Q000001"
    assert payload["priority"] == "L1"
    assert payload["excerpt"] == "设备紧急故障"
    assert payload["rules"] == ["kw.紧急"]
    assert payload["keywords"] == ["紧急"]


def test_noise_mail_is_stored_but_never_ticketed_or_alerted(sqlite_db: Database) -> None:
    from dataclasses import replace

    bounce = replace(message("n1", "t1", "紧急 Delivery failed"), noise="bounce")
    stats = process_batch(context(sqlite_db, ANALYZER, TARGETS), "src", "mail", Batch((bounce, message("a", "t2", "紧急")), {}))
    assert (stats.new, stats.tickets) == (2, 1)
    with sqlite_db.read() as session:
        rows = {m.external_id: m.ticket_id for m in session.scalars(select(StoredMessage))}
        assert rows["n1"] is None and rows["a"] is not None
        assert {a.message_id for a in session.scalars(select(Alert))} == {
            session.scalar(select(StoredMessage.id).where(StoredMessage.external_id == "a"))
        }
