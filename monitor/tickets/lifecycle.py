"""The ticket state machine of the feedback policy, with an audit event for every move.

::

    received ──> processing ──> resolved ──> closed
        │          ↑    │          │
        │          │    ↓          ↓
        │        waiting        reopened ──> processing   (二次处理)
        └──────────────────> resolved

``waiting`` (waiting for the customer, 等待客户) pauses the SLA clocks; so does ``resolved``.
A new customer message on a resolved ticket reopens it; on a waiting ticket it resumes processing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from monitor.storage.models import Ticket, TicketEvent, utcnow

STATUSES = ("received", "processing", "waiting", "resolved", "reopened", "closed")
LABELS = {
    "received": "已登记",
    "processing": "处理中",
    "waiting": "等待客户",
    "resolved": "已解决",
    "reopened": "已重开",
    "closed": "已关闭",
}
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "received": ("processing", "resolved"),
    "processing": ("waiting", "resolved"),
    "waiting": ("processing", "resolved"),
    "resolved": ("closed", "reopened"),
    "reopened": ("processing",),
    "closed": (),
}
ALIASES = {"waiting-for-customer": "waiting"}
# What a new customer message does to a ticket in these states.
ON_CUSTOMER_MESSAGE = {"resolved": "reopened", "waiting": "processing"}


class TransitionError(ValueError):
    pass


def allowed(status: str) -> str:
    moves = TRANSITIONS.get(status, ())
    if not moves:
        return "无（终态）/ none (final state)"
    return "、".join(f"{m}（{LABELS[m]}）" for m in moves)


def check_transition(current: str, status: str) -> str:
    """The canonical target status, or TransitionError naming the allowed moves (Chinese first)."""
    status = ALIASES.get(status, status)
    if status not in STATUSES:
        raise TransitionError(
            f"未知状态 {status!r}，可用：{', '.join(STATUSES)} / unknown status {status!r}; one of {', '.join(STATUSES)}"
        )
    if status not in TRANSITIONS.get(current, ()):
        raise TransitionError(
            f"不能从 {current}（{LABELS.get(current, current)}）转到 {status}；允许：{allowed(current)}"
            f" / cannot go from {current} to {status}; allowed: {', '.join(TRANSITIONS.get(current, ())) or 'none'}"
        )
    return status


def set_status(
    session: Session,
    ticket: Ticket,
    status: str,
    *,
    actor: str,
    note: str | None = None,
    now: datetime | None = None,
) -> None:
    """Move a ticket along the policy's state machine, recording who, when and why."""
    status = check_transition(ticket.status, status)
    _move(session, ticket, status, actor=actor, note=note, now=now or utcnow())


def _move(session: Session, ticket: Ticket, status: str, *, actor: str, note: str | None, now: datetime) -> None:
    session.add(
        TicketEvent(
            ticket_id=ticket.id, kind="status", old_value=ticket.status, new_value=status, actor=actor, note=note, at=now
        )
    )
    ticket.status = status
    ticket.updated_at = now
    if status in ("resolved", "closed"):  # the knowledge base learns from what was solved
        from monitor.tickets.knowledge import index_ticket  # jieba loads only when a ticket resolves

        session.flush()
        index_ticket(session, ticket, now=now)


def customer_returned(ticket: Ticket) -> str | None:
    """On a new customer message: move a resolved ticket to reopened (a waiting one to processing).

    Returns the old status when the ticket moved (the caller records the status event), else None.
    """
    target = ON_CUSTOMER_MESSAGE.get(ticket.status)
    if target is None:
        return None
    old, ticket.status = ticket.status, target
    return old
