"""Assign stored messages to tickets and record every change as an event.

Codes are ``Q`` + the ticket's database id in six digits (``Q000123``): the id comes from the
database's own sequence, so two writers can never get the same code, without a counter table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from monitor.findings import most_urgent, priority_rank
from monitor.storage.bulk import insert_ids, load_by_ids
from monitor.storage.models import Source, StoredMessage, Ticket, TicketEvent, utcnow
from monitor.stored import NewMessage
from monitor.tickets.lifecycle import STATUSES, TRANSITIONS, TransitionError, customer_returned, set_status
from monitor.tickets.record import new_ticket_record
from monitor.tickets.satisfaction import take_reply
from monitor.tickets.thread_settings import TicketsConfig
from monitor.tickets.threads import resolve

__all__ = [
    "STATUSES",
    "TRANSITIONS",
    "TicketChange",
    "TransitionError",
    "assign_tickets",
    "event_row",
    "set_status",
    "write_events",
]
MESSAGES = cast(Table, StoredMessage.__table__)
EVENTS = cast(Table, TicketEvent.__table__)
TICKETS = cast(Table, Ticket.__table__)
# Built once (every batch runs them): building a statement and its cache key per call cost more CPU
# than running it (bench/intake_cpu.py); the SQL is the same.
_GROWN = (
    update(TICKETS)
    .where(TICKETS.c.id == bindparam("b_id"))
    .values(updated_at=bindparam("b_at"), priority=bindparam("b_priority"))
)
_CODES = update(TICKETS).where(TICKETS.c.id == bindparam("b_id")).values(code=bindparam("b_code"))
_LINKS = update(MESSAGES).where(MESSAGES.c.id == bindparam("row_id")).values(ticket_id=bindparam("ticket"))
_EVENTS = insert(EVENTS)


def write_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """``ticket_events`` rows (:func:`event_row`) in one Core executemany statement."""
    if rows:
        session.connection().execute(_EVENTS, rows)


def ticket_code(ticket_id: int) -> str:
    return f"Q{ticket_id:06d}"


def ticket_subject(subject: str, code: str | None) -> str:
    """``[Q000123] subject``: the subject of mail yuqing sends about a ticket.

    A reply keeps the code in its subject ("Re: [Q000123] ..."), and the mail connectors read it
    back (``connectors.mail.threads``), so the reply joins the ticket whatever its headers say.
    """
    if not code or f"[{code}]" in subject:
        return subject
    return f"[{code}] {subject}".strip()


@dataclass
class TicketChange:
    """What one batch did to one ticket; the alert stage decides from this whether to page."""

    ticket: Ticket
    created: bool
    old_priority: str | None
    messages: list[NewMessage] = field(default_factory=list)
    old_status: str | None = None  # set when a customer message moved the ticket (reopen)

    @property
    def escalated(self) -> bool:
        return priority_rank(self.ticket.priority) < priority_rank(self.old_priority)

    @property
    def alerting(self) -> bool:
        """A message whose rules ask for an alert reached the ticket's (new) priority."""
        return any(n.analysis.alert and n.analysis.priority == self.ticket.priority for n in self.messages)


def assign_tickets(
    session: Session,
    source: Source,
    new: Sequence[NewMessage],
    *,
    settings: TicketsConfig | None = None,
) -> list[TicketChange]:
    """Put each new message on its conversation's ticket (:mod:`monitor.tickets.threads`),
    creating tickets for new conversations."""
    if not new:
        return []
    window = (settings or TicketsConfig()).subject_window
    now = utcnow()
    slots: list[TicketChange | None] = []
    fresh: list[tuple[int, dict[str, Any], list[NewMessage]]] = []  # new tickets: position, row, messages
    grown: list[dict[str, Any]] = []  # existing tickets: id, updated_at, priority
    for slot in resolve(session, source, new, window=window):
        items = slot.items
        ticket = slot.ticket
        if ticket is None:
            fresh.append((len(slots), _new_row(source, slot.thread_key, items, now), items))
            slots.append(None)
            continue
        change = TicketChange(ticket, created=False, old_priority=ticket.priority, messages=items)
        if take_reply(session, ticket, items, now):  # a satisfaction answer (its own audit events)
            change.old_priority = ticket.priority
        else:
            change.old_status = customer_returned(ticket)
        # written below in one executemany, not one UPDATE per ticket by the unit of work
        set_committed_value(ticket, "updated_at", now)
        set_committed_value(ticket, "priority", most_urgent(ticket.priority, *(i.analysis.priority for i in items)))
        grown.append({"b_id": ticket.id, "b_at": now, "b_priority": ticket.priority})
        slots.append(change)
    session.flush()  # the stored tickets' other changes (status), before the statements below
    if grown:
        session.connection().execute(
            _GROWN, sorted(grown, key=lambda row: row["b_id"])  # in id order, as the unit of work locks rows
        )
    made = _insert_tickets(session, [row for _, row, _ in fresh])
    for (position, _row, items), ticket in zip(fresh, made, strict=True):
        slots[position] = TicketChange(ticket, created=True, old_priority=None, messages=items)
    changes = [change for change in slots if change is not None]
    _link_messages(session, changes)
    events = [event for change in changes for event in _events(change, now)]
    write_events(session, events)
    return changes


def _new_row(source: Source, thread_key: str, items: Sequence[NewMessage], now: datetime) -> dict[str, Any]:
    """Every column of a new conversation's ticket (the code follows from the id)."""
    first = items[0]
    return {
        "code": None,
        "status": "received",
        "priority": most_urgent(*(i.analysis.priority for i in items)),
        "source_id": source.id,
        "channel": first.row.channel,
        "thread_key": thread_key,
        "title": (first.message.title or first.message.text).strip().replace("\n", " ")[:255],
        "feedback_type": first.analysis.first("feedback_type"),
        "category": first.analysis.first("category"),
        "created_at": now,
        "updated_at": now,
        "department": None,
        "assignee": None,
        "incident_id": None,
        "complex": False,
        **new_ticket_record(first),
    }


def _insert_tickets(session: Session, rows: list[dict[str, Any]]) -> list[Ticket]:
    """New tickets, persistent in the session, in ``rows`` order, with their codes: inserted in bulk
    (:mod:`monitor.storage.bulk`, matched back by thread key - unique per source), then one
    executemany UPDATE of the codes before they are loaded."""
    ids = insert_ids(session, TICKETS, rows, "thread_key")
    if ids:
        session.connection().execute(
            _CODES, [{"b_id": ticket_id, "b_code": ticket_code(ticket_id)} for ticket_id in ids]
        )
    return load_by_ids(session, Ticket, ids)


def _link_messages(session: Session, changes: Sequence[TicketChange]) -> None:
    """Point each new message at its ticket: one executemany UPDATE by primary key."""
    links: list[dict[str, Any]] = []
    for change in changes:
        for item in change.messages:
            item.row.ticket_id = change.ticket.id
            links.append({"row_id": item.row.id, "ticket": change.ticket.id})
    session.connection().execute(_LINKS, links)


def _events(change: TicketChange, now: object) -> list[dict[str, Any]]:
    """The audit rows for one change, in order: created, one per message, priority."""
    ticket_id = change.ticket.id
    events: list[dict[str, Any]] = []
    if change.created:
        events.append(event_row(ticket_id, "created", now, new_value="received"))
    for item in change.messages:
        events.append(event_row(ticket_id, "message", now, message_id=item.row.id))
    if change.old_status is not None:
        events.append(
            event_row(ticket_id, "status", now, old_value=change.old_status, new_value=change.ticket.status)
        )
    if change.ticket.priority != change.old_priority:
        events.append(
            event_row(
                ticket_id, "priority", now, old_value=change.old_priority, new_value=change.ticket.priority
            )
        )
    return events


def event_row(
    ticket_id: int,
    kind: str,
    at: object,
    *,
    message_id: int | None = None,
    old_value: str | None = None,
    new_value: str | None = None,
) -> dict[str, Any]:
    """A ``ticket_events`` row written by the system; every row has every key, so a batch's rows
    go in one executemany statement (:func:`write_events`)."""
    return {
        "ticket_id": ticket_id,
        "kind": kind,
        "message_id": message_id,
        "old_value": old_value,
        "new_value": new_value,
        "actor": "system",
        "note": None,
        "at": at,
    }
