"""The policy's ticket record: staff corrections, internal notes and responses, each an audit event.

Every change is a ``ticket_events`` row with who (``actor``), when (``at``) and why (``note``):
``field`` events carry the field name in ``old_value``'s companion — ``new_value`` is written as
``name=value`` so the log reads on its own; ``priority`` keeps its own kind (older rows use it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.storage.models import Incident, Ticket, TicketEvent, utcnow
from monitor.stored import NewMessage

TYPES = ("complaint", "suggestion", "praise", "inquiry")
CATEGORIES = ("product", "service", "process", "environment")
PRIORITIES = ("L1", "L2", "L3")
TEXT_FIELDS = ("department", "assignee", "customer_name", "customer_handle", "customer_contact")
FIELDS = ("priority", "type", "category", "tags", "complex", "incident", *TEXT_FIELDS)
_TRUE, _FALSE = ("1", "true", "yes", "y", "是"), ("0", "false", "no", "n", "否")


class FieldError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class FieldChange:
    name: str
    old: str | None
    new: str | None


def parse_assignments(items: list[str]) -> dict[str, str]:
    """``["priority=L1", "department=售后服务部"]`` → mapping; refuses unknown names and repeats."""
    result: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise FieldError(f"应为 字段=值 / expected FIELD=VALUE: {item!r} (fields: {', '.join(FIELDS)})")
        if name not in FIELDS:
            raise FieldError(f"未知字段 / unknown field {name!r}; one of {', '.join(FIELDS)}")
        if name in result:
            raise FieldError(f"字段重复 / field given twice: {name}")
        result[name] = value.strip()
    return result


def _normalise(session: Session, name: str, value: str) -> tuple[str, object]:
    """The column and its validated value for one assignment."""
    choices = {"priority": PRIORITIES, "type": TYPES, "category": CATEGORIES}
    if name in choices:
        value = value.upper() if name == "priority" else value.lower()
        if value not in choices[name]:
            raise FieldError(f"{name} 须为 / must be one of {', '.join(choices[name])}: {value!r}")
        return ("feedback_type" if name == "type" else name), value
    if name == "complex":
        if value.lower() not in _TRUE + _FALSE:
            raise FieldError(f"complex 须为 yes/no / must be yes or no: {value!r}")
        return name, value.lower() in _TRUE
    if name == "tags":
        return name, sorted({t.strip() for t in value.replace("，", ",").split(",") if t.strip()})
    if name == "incident":
        return "incident_id", _incident_id(session, value)
    if len(value) > 128 or any(ord(c) < 32 for c in value):
        raise FieldError(f"{name}: 值过长或含控制字符 / too long or has control characters")
    return name, value or None


def _incident_id(session: Session, code: str) -> int | None:
    if not code:
        return None
    found = session.scalar(select(Incident.id).where(Incident.code == code.upper()))
    if found is None:
        raise FieldError(f"没有事件 / no incident {code!r}")
    return found


def _show(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ",".join(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def set_fields(
    session: Session,
    ticket: Ticket,
    assignments: Mapping[str, str],
    *,
    actor: str,
    reason: str,
    now: datetime | None = None,
) -> list[FieldChange]:
    """Validate every assignment first, then apply the ones that change something (one event each)."""
    if not reason.strip():
        raise FieldError("请用 --reason 说明修改原因 / --reason is required: say why")
    planned = [(name, *_normalise(session, name, value)) for name, value in assignments.items()]
    now = now or utcnow()
    changes: list[FieldChange] = []
    for name, column, value in planned:
        old = getattr(ticket, column)
        if old == value or (column == "tags" and sorted(old or []) == value):
            continue
        setattr(ticket, column, value)
        change = FieldChange(name, _show(old), _show(value))
        changes.append(change)
        kind = "priority" if name == "priority" else "field"
        new_value = change.new if kind == "priority" else f"{name}={change.new or ''}"
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                kind=kind,
                old_value=change.old,
                new_value=new_value,
                actor=actor,
                note=reason,
                at=now,
            )
        )
    if changes:
        ticket.updated_at = now
    return changes


def add_note(session: Session, ticket: Ticket, text: str, *, actor: str, now: datetime | None = None) -> None:
    """An internal note (never sent to the customer)."""
    if not text.strip():
        raise FieldError("备注不能为空 / the note is empty")
    session.add(
        TicketEvent(ticket_id=ticket.id, kind="note", actor=actor, note=text.strip(), at=now or utcnow())
    )


def record_response(
    session: Session, ticket: Ticket, *, actor: str, note: str | None = None, now: datetime | None = None
) -> None:
    """An agent responded to the customer: stops the first- and next-response clocks.

    The console and outgoing mail call this same function. A first response on a ``received``
    ticket also moves it to ``processing``.
    """
    from monitor.tickets.lifecycle import set_status

    if ticket.status == "closed":
        raise FieldError(f"{ticket.code}: 工单已关闭 / the ticket is closed")
    now = now or utcnow()
    session.add(TicketEvent(ticket_id=ticket.id, kind="responded", actor=actor, note=note, at=now))
    if ticket.status in ("received", "reopened"):
        set_status(session, ticket, "processing", actor=actor, note="首次响应 first response", now=now)
    ticket.updated_at = now


def new_ticket_record(first: NewMessage) -> dict[str, Any]:
    """The policy's record of a new ticket, from its first message (the customer and the content)."""
    message = first.message
    return {
        "customer_name": message.author.display_name[:255] or None,
        "customer_handle": message.author.id[:255] or None,
        # a mail address is a way to reach the customer; other handles are not contact details
        "customer_contact": message.author.id[:255] if "@" in message.author.id else None,
        "source_url": (message.url or "")[:2048] or None,
        "received_at": message.created_at,
        "content": message.text,
        "tags": [],
    }


def describe_new_ticket(ticket: Ticket, first: NewMessage) -> None:
    """Fill the policy's record from a new ticket's first message (:func:`new_ticket_record`)."""
    for name, value in new_ticket_record(first).items():
        setattr(ticket, name, value)
