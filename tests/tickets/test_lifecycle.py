"""The policy's state machine: every allowed and refused move, reopen on a customer message,
field changes, notes and responses — each an audit event with who, when and why."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import product

import pytest
from sqlalchemy import select

from monitor.message import Batch
from monitor.pipeline import process_batch
from monitor.storage.db import Database
from monitor.storage.models import Source, Ticket, TicketEvent
from monitor.tickets.lifecycle import STATUSES, TRANSITIONS, TransitionError, set_status
from monitor.tickets.record import FieldError, add_note, parse_assignments, record_response, set_fields
from tests.helpers.builders import KeywordStub, message
from tests.helpers.context import context

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
ANALYZER = KeywordStub({"投诉": ("L2", True)})
ALLOWED = {
    ("received", "processing"), ("received", "resolved"),
    ("processing", "waiting"), ("processing", "resolved"),
    ("waiting", "processing"), ("waiting", "resolved"),
    ("resolved", "closed"), ("resolved", "reopened"),
    ("reopened", "processing"),
}  # fmt: skip
MOVES = list(product(STATUSES, STATUSES))


def _ticket(db: Database, status: str = "received") -> int:
    with db.transaction() as session:
        source = Source(name="src", kind="files")
        session.add(source)
        session.flush()
        ticket = Ticket(source_id=source.id, channel="email", thread_key="t1", title="x", status=status, created_at=NOW, updated_at=NOW)
        session.add(ticket)
        session.flush()
        ticket.code = f"Q{ticket.id:06d}"
        return ticket.id


def test_the_table_is_the_policy() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == ALLOWED


@pytest.mark.parametrize(("old", "new"), MOVES, ids=[f"{a}->{b}" for a, b in MOVES])
def test_every_move_is_allowed_or_refused_naming_the_allowed_ones(sqlite_db: Database, old: str, new: str) -> None:
    ticket_id = _ticket(sqlite_db, old)
    with sqlite_db.transaction() as session:
        ticket = session.get_one(Ticket, ticket_id)
        if (old, new) in ALLOWED:
            set_status(session, ticket, new, actor="wangfang", note="why", now=NOW)
        else:
            with pytest.raises(TransitionError) as refused:
                set_status(session, ticket, new, actor="wangfang", now=NOW)
            message = str(refused.value)
            assert message.startswith("不能从")  # Chinese first
            for allowed in TRANSITIONS[old]:
                assert allowed in message
            if not TRANSITIONS[old]:
                assert "终态" in message
    with sqlite_db.read() as session:
        events = list(session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)))
        status = session.get_one(Ticket, ticket_id).status
    if (old, new) in ALLOWED:
        assert status == new
        assert [(e.kind, e.old_value, e.new_value, e.actor, e.note) for e in events] == [("status", old, new, "wangfang", "why")]
    else:
        assert (status, events) == (old, [])


def test_waiting_for_customer_is_accepted_as_an_alias(sqlite_db: Database) -> None:
    ticket_id = _ticket(sqlite_db, "processing")
    with sqlite_db.transaction() as session:
        ticket = session.get_one(Ticket, ticket_id)
        set_status(session, ticket, "waiting-for-customer", actor="a")
        assert ticket.status == "waiting"


@pytest.mark.parametrize(
    ("before", "after"), [("resolved", "reopened"), ("waiting", "processing"), ("processing", "processing")],
    ids=["resolved-reopens", "waiting-resumes", "processing-stays"],
)  # fmt: skip
def test_a_new_customer_message_reopens_a_resolved_ticket(any_db: Database, before: str, after: str) -> None:
    process_batch(context(any_db, ANALYZER), "src", "files", Batch((message("a", "t1", "我要投诉"),), {}))
    with any_db.transaction() as session:
        ticket = session.scalars(select(Ticket)).one()
        ticket.status = before
    process_batch(context(any_db, ANALYZER), "src", "files", Batch((message("b", "t1", "还是不行"),), {}))
    with any_db.read() as session:
        ticket = session.scalars(select(Ticket)).one()
        events = [(e.kind, e.old_value, e.new_value, e.actor) for e in ticket.events]
    assert ticket.status == after
    moved = [e for e in events if e[0] == "status"]
    assert moved == ([] if before == after else [("status", before, after, "system")])
    assert ("message", None, None, "system") in events[-2:]


def test_new_tickets_carry_the_policy_record(sqlite_db: Database) -> None:
    process_batch(context(sqlite_db, ANALYZER), "src", "files", Batch((message("a", "t1", "我要投诉"),), {}))
    with sqlite_db.read() as session:
        ticket = session.scalars(select(Ticket)).one()
    assert (ticket.customer_name, ticket.customer_handle, ticket.content, ticket.tags, ticket.complex) == (
        "User One", "u1", "我要投诉", [], False,
    )  # fmt: skip
    assert ticket.received_at == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def test_field_changes_are_validated_first_and_each_is_an_event(sqlite_db: Database) -> None:
    ticket_id = _ticket(sqlite_db)
    with sqlite_db.transaction() as session:
        ticket = session.get_one(Ticket, ticket_id)
        fields = parse_assignments(["priority=l1", "department=售后服务部", "assignee=wangfang", "tags=退款,物流", "complex=yes"])
        changes = set_fields(session, ticket, fields, actor="lihua", reason="客户来电升级", now=NOW)
        assert [c.name for c in changes] == ["priority", "department", "assignee", "tags", "complex"]
        again = set_fields(session, ticket, {"priority": "L1"}, actor="lihua", reason="same", now=NOW)
        assert again == []
        with pytest.raises(FieldError, match="category"):
            set_fields(session, ticket, {"assignee": "zhao", "category": "weather"}, actor="x", reason="r")
        assert ticket.assignee == "wangfang"  # nothing applied from a refused command
    with sqlite_db.read() as session:
        events = [(e.kind, e.old_value, e.new_value, e.actor, e.note) for e in session.get_one(Ticket, ticket_id).events]
    assert events == [
        ("priority", None, "L1", "lihua", "客户来电升级"),
        ("field", None, "department=售后服务部", "lihua", "客户来电升级"),
        ("field", None, "assignee=wangfang", "lihua", "客户来电升级"),
        ("field", "", "tags=物流,退款", "lihua", "客户来电升级"),
        ("field", "false", "complex=true", "lihua", "客户来电升级"),
    ]


@pytest.mark.parametrize(
    ("items", "reason"),
    [(["priority"], "r"), (["owner=x"], "r"), (["priority=L4"], "r"), (["type=rant"], "r"), (["complex=maybe"], "r"),
     (["priority=L1", "priority=L2"], "r"), (["priority=L1"], " "), (["incident=I999999"], "r")],
    ids=["no-value", "unknown-field", "bad-priority", "bad-type", "bad-bool", "repeated", "no-reason", "no-incident"],
)  # fmt: skip
def test_bad_field_changes_are_refused(sqlite_db: Database, items: list[str], reason: str) -> None:
    ticket_id = _ticket(sqlite_db)
    with sqlite_db.transaction() as session, pytest.raises(FieldError):
        set_fields(session, session.get_one(Ticket, ticket_id), parse_assignments(items), actor="x", reason=reason)


def test_notes_and_responses_are_events(sqlite_db: Database) -> None:
    ticket_id = _ticket(sqlite_db)
    with sqlite_db.transaction() as session:
        ticket = session.get_one(Ticket, ticket_id)
        add_note(session, ticket, "客户是老用户", actor="lihua", now=NOW)
        record_response(session, ticket, actor="wangfang", note="已电话联系", now=NOW)
        assert ticket.status == "processing"
        with pytest.raises(FieldError):
            add_note(session, ticket, "  ", actor="lihua")
    with sqlite_db.read() as session:
        events = [(e.kind, e.new_value, e.actor, e.note) for e in session.get_one(Ticket, ticket_id).events]
    assert events == [
        ("note", None, "lihua", "客户是老用户"),
        ("responded", None, "wangfang", "已电话联系"),
        ("status", "processing", "wangfang", "首次响应 first response"),
    ]
