"""Incident life cycle: ``open -> acknowledged -> resolved`` with an event per change.

``find_incident`` accepts an incident code (``INC-42``) or a ticket code (``Q000123``: the newest
incident holding one of the ticket's messages), so staff can acknowledge with whatever code the
alert showed them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.storage.models import Incident, IncidentEvent, StoredMessage, Ticket

STATES = ("open", "acknowledged", "resolved")


class IncidentStateError(ValueError):
    pass


def find_incident(session: Session, ref: str) -> Incident | None:
    ref = ref.strip().upper()
    if ref.startswith("INC-"):
        return session.scalar(select(Incident).where(Incident.code == ref))
    if ref.startswith("Q"):
        ticket_id = session.scalar(select(Ticket.id).where(Ticket.code == ref))
        if ticket_id is None:
            return None
        incident_id = session.scalar(
            select(StoredMessage.incident_id)
            .where(StoredMessage.ticket_id == ticket_id, StoredMessage.incident_id.is_not(None))
            .order_by(StoredMessage.incident_id.desc())
            .limit(1)
        )
        return session.get(Incident, incident_id) if incident_id is not None else None
    return None


def _event(
    session: Session, incident: Incident, kind: str, new: str, actor: str, at: datetime, note: str | None
) -> None:
    session.add(
        IncidentEvent(
            incident_id=incident.id,
            kind=kind,
            old_value=incident.state,
            new_value=new,
            actor=actor,
            note=note,
            at=at,
        )
    )


def acknowledge(
    session: Session, incident: Incident, *, actor: str, now: datetime, note: str | None = None
) -> bool:
    """Stop re-notification and escalation; False if it was already acknowledged (idempotent)."""
    if incident.state == "resolved":
        raise IncidentStateError(f"{incident.code} is already resolved")
    if incident.state == "acknowledged":
        return False
    _event(session, incident, "state", "acknowledged", actor, now, note)
    incident.state = "acknowledged"
    incident.acknowledged_at = now
    incident.acknowledged_by = actor[:128]
    incident.next_escalation_at = None
    incident.updated_at = now
    return True


def resolve(
    session: Session, incident: Incident, *, actor: str, now: datetime, note: str | None = None
) -> bool:
    """Close the incident; False if it was already resolved (idempotent)."""
    if incident.state == "resolved":
        return False
    _event(session, incident, "state", "resolved", actor, now, note)
    incident.state = "resolved"
    incident.resolved_at = now
    incident.resolved_by = actor[:128]
    incident.next_escalation_at = None
    incident.updated_at = now
    return True


def due_for_escalation(session: Session, now: datetime) -> list[Incident]:
    query = select(Incident).where(
        Incident.state == "open", Incident.next_escalation_at.is_not(None), Incident.next_escalation_at <= now
    )
    return list(session.scalars(query.order_by(Incident.id).with_for_update()))


def quiet_incidents(session: Session, now: datetime, quiet_minutes: float) -> list[Incident]:
    """Incidents no post joined for ``quiet_minutes``: auto-resolve candidates."""
    cutoff = now - timedelta(minutes=quiet_minutes)
    query = select(Incident).where(
        Incident.state != "resolved", Incident.last_seen <= cutoff, Incident.opened_at <= cutoff
    )
    return list(session.scalars(query.order_by(Incident.id)))
