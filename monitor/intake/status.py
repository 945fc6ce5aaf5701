"""What a customer may see of their feedback: the status in the policy's words and the public reply.

Never internal notes, assignees, departments or other customers' data. A lookup needs the
ticket code - or, for a submission held for review, its own ``F…`` code - and either the status
token (any submission) or the contact given with it (not for anonymous ones); both are compared
in constant time, and a miss says nothing about which part was wrong. A held submission reads
已收到 until it is approved (then its ticket's status, under the ticket's code) or rejected
(未受理 Not accepted).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.intake.customer import held_code, held_id
from monitor.intake.submit import status_token
from monitor.storage.db import Database
from monitor.storage.models import IntakeSubmission, StoredMessage, Ticket, TicketEvent

# ticket status -> the three words of the policy (已收到 / 处理中 / 已解决)
PUBLIC = {
    "received": ("received", "已收到", "Received"),
    "processing": ("processing", "处理中", "Processing"),
    "waiting": ("processing", "处理中", "Processing"),
    "reopened": ("processing", "处理中", "Processing"),
    "resolved": ("resolved", "已解决", "Resolved"),
    "closed": ("resolved", "已解决", "Resolved"),
    "rejected": ("rejected", "未受理", "Not accepted"),  # held for review, then rejected: no ticket
}


@dataclass(frozen=True, slots=True)
class PublicStatus:
    code: str
    status: str
    label_zh: str
    label_en: str
    type: str
    submitted_at: str
    updated_at: str
    reply: str | None
    """The latest response recorded for the customer (``yuqing tickets respond --note``)."""


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


def _contact(value: str) -> str:
    return "".join(value.split()).lower()


def lookup(db: Database, secret: bytes, code: str, *, token: str = "", contact: str = "") -> PublicStatus | None:
    """The public status, or None when the code, token or contact does not match (all alike)."""
    code = code.strip().upper()
    if not code or not (token or contact) or len(code) > 16:
        return None
    submission = held_id(code)
    with db.read() as session:
        if submission is not None:
            return _held(session, secret, submission, token=token, contact=contact)
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        # through the message: a submission held for review gets its ticket on approval
        subs = (
            list(
                session.scalars(
                    select(IntakeSubmission)
                    .join(StoredMessage, StoredMessage.id == IntakeSubmission.message_id)
                    .where(StoredMessage.ticket_id == ticket.id)
                )
            )
            if ticket is not None
            else []
        )
        if not subs:
            ticket = None
        if ticket is None:
            status_token(secret, "no-such-submission")  # the same work for a miss
            return None
        matched = False
        for sub in subs:
            if token:
                matched |= _same(token, status_token(secret, sub.external_id))
            elif not sub.anonymous and ticket.customer_contact:
                matched |= _same(_contact(contact), _contact(ticket.customer_contact))
        if not matched:
            return None
        return _public(session, ticket, subs)


def _public(session: Session, ticket: Ticket, subs: list[IntakeSubmission]) -> PublicStatus:
    key, zh, en = PUBLIC.get(ticket.status, PUBLIC["processing"])
    reply = session.scalar(
        select(TicketEvent.note)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "responded", TicketEvent.note.is_not(None))
        .order_by(TicketEvent.id.desc())
        .limit(1)
    )
    first = min(sub.created_at for sub in subs)
    return PublicStatus(
        code=ticket.code or "",
        status=key,
        label_zh=zh,
        label_en=en,
        type=subs[0].feedback_type,
        submitted_at=first.isoformat(),
        updated_at=ticket.updated_at.isoformat(),
        reply=reply,
    )


def _held(session: Session, secret: bytes, submission: int, *, token: str, contact: str) -> PublicStatus | None:
    """A submission looked up by its own code: held (已收到), rejected (未受理) or, once approved,
    its ticket's status under the ticket's code."""
    found = session.execute(
        select(IntakeSubmission, StoredMessage).join(StoredMessage, StoredMessage.id == IntakeSubmission.message_id)
        .where(IntakeSubmission.id == submission)
    ).first()
    if found is None:
        status_token(secret, "no-such-submission")  # the same work for a miss
        return None
    sub, message = found
    if token:
        matched = _same(token, status_token(secret, sub.external_id))
    else:
        matched = not sub.anonymous and bool(message.author_id) and _same(_contact(contact), _contact(message.author_id))
    if not matched:
        return None
    ticket = session.get(Ticket, message.ticket_id) if message.ticket_id is not None else None
    if ticket is not None:
        return _public(session, ticket, [sub])
    key, zh, en = PUBLIC["rejected" if message.review_status == "rejected" else "received"]
    return PublicStatus(
        code=held_code(sub.id),
        status=key,
        label_zh=zh,
        label_en=en,
        type=sub.feedback_type,
        submitted_at=sub.created_at.isoformat(),
        updated_at=sub.created_at.isoformat(),
        reply=None,
    )
