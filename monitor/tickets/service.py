"""Assign stored messages to tickets and record every change as an event.

Codes are ``Q`` + the ticket's database id in six digits (``Q000123``): the id comes from the
database's own sequence, so two writers can never get the same code, without a counter table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.analysis.findings import Priority, most_urgent, priority_rank
from monitor.ingest.store import NewMessage
from monitor.storage.models import Source, Ticket, TicketEvent, utcnow

STATUSES = ("received", "processing", "resolved")
TRANSITIONS: dict[str, set[str]] = {
    "received": {"processing", "resolved"},
    "processing": {"resolved", "received"},
    "resolved": {"processing"},  # reopen
}
_CHUNK = 500


def ticket_code(ticket_id: int) -> str:
    return f"Q{ticket_id:06d}"


@dataclass
class TicketChange:
    """What one batch did to one ticket; the alert stage decides from this whether to page."""

    ticket: Ticket
    created: bool
    old_priority: str | None
    messages: list[NewMessage] = field(default_factory=list)

    @property
    def escalated(self) -> bool:
        return priority_rank(self.ticket.priority) < priority_rank(self.old_priority)

    @property
    def alerting(self) -> bool:
        """A message whose rules ask for an alert reached the ticket's (new) priority."""
        return any(n.analysis.alert and n.analysis.priority == self.ticket.priority for n in self.messages)


def _existing_tickets(session: Session, source_id: int, keys: Sequence[str]) -> dict[str, Ticket]:
    found: dict[str, Ticket] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        query = select(Ticket).where(Ticket.source_id == source_id, Ticket.thread_key.in_(chunk))
        found.update({t.thread_key: t for t in session.scalars(query)})
    return found


def assign_tickets(session: Session, source: Source, new: Sequence[NewMessage]) -> list[TicketChange]:
    """Put each new message on its thread's ticket, creating tickets for new threads."""
    if not new:
        return []
    by_thread: dict[str, list[NewMessage]] = {}
    for item in new:
        by_thread.setdefault(item.row.thread_key, []).append(item)
    tickets = _existing_tickets(session, source.id, list(by_thread))
    now = utcnow()
    changes: list[TicketChange] = []
    created: list[TicketChange] = []
    for thread_key, items in by_thread.items():
        ticket = tickets.get(thread_key)
        first = items[0]
        if ticket is None:
            ticket = Ticket(
                source_id=source.id,
                channel=first.row.channel,
                thread_key=thread_key,
                title=(first.message.title or first.message.text).strip().replace("\n", " ")[:255],
                status="received",
                feedback_type=first.analysis.first("feedback_type"),
                category=first.analysis.first("category"),
                created_at=now,
                updated_at=now,
            )
            session.add(ticket)
            change = TicketChange(ticket, created=True, old_priority=None, messages=items)
            created.append(change)
        else:
            change = TicketChange(ticket, created=False, old_priority=ticket.priority, messages=items)
            ticket.updated_at = now
        new_priority: Priority | None = most_urgent(ticket.priority, *(i.analysis.priority for i in items))
        ticket.priority = new_priority
        changes.append(change)
    session.flush()  # ids for new tickets
    for change in created:
        change.ticket.code = ticket_code(change.ticket.id)
    for change in changes:
        _record_events(session, change, now)
    return changes


def _record_events(session: Session, change: TicketChange, now: object) -> None:
    ticket = change.ticket
    events: list[TicketEvent] = []
    if change.created:
        events.append(TicketEvent(ticket_id=ticket.id, kind="created", new_value="received", at=now))
    for item in change.messages:
        item.row.ticket_id = ticket.id
        events.append(TicketEvent(ticket_id=ticket.id, kind="message", message_id=item.row.id, at=now))
    if ticket.priority != change.old_priority:
        events.append(
            TicketEvent(
                ticket_id=ticket.id,
                kind="priority",
                old_value=change.old_priority,
                new_value=ticket.priority,
                at=now,
            )
        )
    session.add_all(events)


class TransitionError(ValueError):
    pass


def set_status(session: Session, ticket: Ticket, status: str, *, actor: str, note: str | None = None) -> None:
    """Move a ticket along ``received -> processing -> resolved`` (reopen allowed), with an event."""
    if status not in STATUSES:
        raise TransitionError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
    if status not in TRANSITIONS[ticket.status]:
        raise TransitionError(f"cannot go from {ticket.status} to {status}")
    now = utcnow()
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            kind="status",
            old_value=ticket.status,
            new_value=status,
            actor=actor,
            note=note,
            at=now,
        )
    )
    ticket.status = status
    ticket.updated_at = now
