"""What a submission tells its ticket about the customer, and the code of one still held for review.

A submission's ticket is its own (the thread key is the submission's id). Its customer fields and
type are the ones the customer gave - the contact as typed, not guessed from the author as for
mail - written for a whole group in one statement, and again when a held submission is approved.

A submission that the review queue holds has no ticket yet, so its answer carries the
submission's own code, ``F`` and its id (``F000045``; ticket codes are ``Q`` and the ticket's id).
The customer looks it up with that code and the status token (or contact) like a ticket code:
已收到 while it waits, the ticket's status once approved, 未受理 if rejected.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from monitor.storage.models import IntakeSubmission, StoredMessage, Ticket

TICKETS = cast(Table, Ticket.__table__)
HELD_CODE = re.compile(r"^F(\d{6,12})$")
# built once: every intake group runs it (building it per call cost more CPU than running it)
_DECLARE = (
    update(TICKETS)
    .where(TICKETS.c.id == bindparam("ticket"))
    .values(
        feedback_type=bindparam("type"),
        customer_name=bindparam("name"),
        customer_contact=bindparam("contact"),
        customer_handle=None,
    )
)


@dataclass(frozen=True, slots=True)
class Declared:
    ticket_id: int
    feedback_type: str
    name: str | None
    contact: str | None


def held_code(submission_id: int) -> str:
    return f"F{submission_id:06d}"


def held_id(code: str) -> int | None:
    """The submission id of an ``F…`` code, None for any other code."""
    found = HELD_CODE.match(code)
    return int(found.group(1)) if found else None


def declare(session: Session, declared: Sequence[Declared]) -> None:
    """The customer's own type, name and contact on their tickets: one executemany UPDATE."""
    if not declared:
        return
    session.flush()  # no pending ORM change of these tickets may be written over this statement later
    rows: list[dict[str, Any]] = [
        {"ticket": d.ticket_id, "type": d.feedback_type, "name": d.name, "contact": d.contact} for d in declared
    ]
    session.connection().execute(_DECLARE, rows)


def declare_approved(session: Session, message_ids: Sequence[int]) -> None:
    """After the review queue released messages: the customer fields of the tickets that approved
    submissions just got (their name and contact were kept as the message's author)."""
    if not message_ids:
        return
    found = session.execute(
        select(Ticket.id, Ticket.thread_key, IntakeSubmission.external_id, IntakeSubmission.feedback_type,
               StoredMessage.author_name, StoredMessage.author_id)
        .join(StoredMessage, StoredMessage.id == IntakeSubmission.message_id)
        .join(Ticket, Ticket.id == StoredMessage.ticket_id)
        .where(IntakeSubmission.message_id.in_(list(message_ids)))
    )
    declare(
        session,
        [
            Declared(ticket_id, kind, name or None, contact or None)
            for ticket_id, thread_key, external_id, kind, name, contact in found
            if thread_key == external_id
        ],
    )
