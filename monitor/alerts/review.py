"""The review queue: messages flagged ``review`` (abuse, fraud, threats) wait for a person.

They are stored like every message, but get no ticket, join no incident and page nobody until
``yuqing review approve`` releases them (``reject`` keeps them out for good).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from monitor.alerts.outbox import enqueue_ticket_alerts
from monitor.alerts.paging import Paging, enqueue_incident_pages
from monitor.findings import Analysis, Finding
from monitor.storage.convert import to_message
from monitor.storage.db import Database
from monitor.storage.models import Source, StoredMessage
from monitor.stored import MessageRow, NewMessage
from monitor.tickets.incidents import update_incidents
from monitor.tickets.service import assign_tickets


def hold_for_review(session: Session, stored: Sequence[NewMessage]) -> list[NewMessage]:
    """Mark messages that need review as pending; return the others (they flow on)."""
    held = [n.row.id for n in stored if n.analysis.review]
    if held:
        session.execute(
            update(StoredMessage)
            .where(StoredMessage.id.in_(held))
            .values(review_status="pending")
            .execution_options(synchronize_session=False)
        )
    return [n for n in stored if not n.analysis.review]


def pending_reviews(session: Session, limit: int = 100) -> list[StoredMessage]:
    query = select(StoredMessage).where(StoredMessage.review_status == "pending").order_by(StoredMessage.id)
    return list(session.scalars(query.limit(limit)))


def _rebuild(row: StoredMessage, source: Source) -> NewMessage:
    """A stored message as the ticket stage sees a new one (analysis from its stored record)."""
    record: dict[str, Any] = row.analysis or {}
    findings = tuple(
        Finding(rule_id=rule, priority=record.get("priority"), alert=bool(record.get("alert")))
        for rule in record.get("rules") or ["review"]
    )
    message_row = MessageRow(row.id, row.thread_key, row.channel, row.ticket_id)
    return NewMessage(message_row, to_message(row, source.name), Analysis(findings))


def decide(db: Database, message_id: int, *, approve: bool, paging: Paging, now: datetime) -> str:
    """Approve (ticket, incident and alerts as if it had just arrived) or reject one message."""
    with db.transaction() as session:
        row = session.get(StoredMessage, message_id)
        if row is None or row.review_status != "pending":
            raise LookupError(f"message {message_id} is not waiting for review")
        if not approve:
            row.review_status = "rejected"
            return "rejected"
        row.review_status = "approved"
        source = session.get(Source, row.source_id)
        assert source is not None
        item = _rebuild(row, source)
        changes = assign_tickets(session, source, [item])
        enqueue_ticket_alerts(session, source, changes, paging.targets)
        incidents = update_incidents(session, [item], paging.incidents, now=now)
        enqueue_incident_pages(session, incidents, paging, now=now)
        return "approved"
