"""Acknowledge, resolve and escalate incidents: the state change and its notifications together.

Used by the CLI (``yuqing ack|resolve``), the HTTP link endpoint and the ``housekeeping:escalation``
job. Each call is one transaction, so a state change never exists without its outbox rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.orm import Session

from monitor.alerts.paging import (
    Paging,
    acknowledged_notice,
    cancel_pending_pages,
    escalate_incident,
    resolved_notice,
)
from monitor.storage.db import Database
from monitor.storage.models import Incident
from monitor.tickets.incident_state import (
    acknowledge,
    due_for_escalation,
    find_incident,
    quiet_incidents,
    resolve,
)

log = structlog.get_logger("yuqing.incidents")


class UnknownIncident(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class ActionResult:
    code: str
    state: str
    changed: bool
    notices: int = 0


# state change -> notice to everyone already paged, per action
_ACTIONS: dict[str, tuple[Callable[..., bool], Callable[[Session, Incident, Paging, datetime], int]]] = {
    "acknowledged": (acknowledge, acknowledged_notice),
    "resolved": (resolve, resolved_notice),
}


def _act(
    action: str, db: Database, ref: str, paging: Paging, *, actor: str, now: datetime, note: str | None
) -> ActionResult:
    change, notice = _ACTIONS[action]
    with db.transaction() as session:
        incident = find_incident(session, ref)
        if incident is None:
            raise UnknownIncident(f"no incident for {ref!r}")
        changed = change(session, incident, actor=actor, now=now, note=note)
        notices = 0
        if changed:
            cancel_pending_pages(session, incident, now)
            notices = notice(session, incident, paging, now)
            log.info(f"incident_{action}", incident=incident.code, actor=actor, notices=notices)
        return ActionResult(incident.code or "", incident.state, changed, notices)


def acknowledge_ref(
    db: Database, ref: str, paging: Paging, *, actor: str, now: datetime, note: str | None = None
) -> ActionResult:
    """Stop the paging; everyone already paged gets an "acknowledged by" notice, so they stand down."""
    return _act("acknowledged", db, ref, paging, actor=actor, now=now, note=note)


def resolve_ref(
    db: Database, ref: str, paging: Paging, *, actor: str, now: datetime, note: str | None = None
) -> ActionResult:
    """Close the incident; everyone who was paged gets one resolved notice."""
    return _act("resolved", db, ref, paging, actor=actor, now=now, note=note)


@dataclass
class EscalationStats:
    escalated: int = 0
    pages: int = 0
    auto_resolved: int = 0


def run_escalation(db: Database, paging: Paging, *, now: datetime) -> EscalationStats:
    """Re-notify/escalate unacknowledged incidents that are due; auto-resolve quiet ones."""
    stats = EscalationStats()
    with db.transaction() as session:
        for incident in quiet_incidents(session, now, paging.incidents.quiet_minutes):
            if resolve(session, incident, actor="auto", now=now, note="quiet period"):
                cancel_pending_pages(session, incident, now)
                stats.pages += resolved_notice(session, incident, paging, now)
                stats.auto_resolved += 1
        for incident in due_for_escalation(session, now):
            stats.pages += escalate_incident(session, incident, paging, now)
            stats.escalated += 1
    if stats.escalated or stats.auto_resolved:
        log.info(
            "escalation", escalated=stats.escalated, pages=stats.pages, auto_resolved=stats.auto_resolved
        )
    return stats
