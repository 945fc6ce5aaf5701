"""Incident paging: who gets told, once per incident x target x step, through the outbox.

Every notification is an ``alerts`` row written before anything is sent: the first page in the
batch transaction that opened the incident, later steps by the escalation job, the resolved notice
with the resolution. The row's ``(dedupe_key, target)`` is unique, ``dedupe_key`` being
``incident:<id>:<step>``; the outbox puts ``idempotency_key = <dedupe_key>@<target>`` in the
payload, so a receiver that sees a re-send after a crash mid-send can drop it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from monitor.alerts.links import LinkSigner, personal_links
from monitor.alerts.oncall import OnCall
from monitor.alerts.silences import Subject, active_silences, matching
from monitor.findings import priority_rank
from monitor.storage.models import Alert, Incident, IncidentEvent, StoredMessage
from monitor.targets import TargetConfig
from monitor.tickets.incident_settings import IncidentsConfig
from monitor.tickets.incidents import IncidentChange

log = structlog.get_logger("yuqing.paging")
DEFAULT_REPEAT_MINUTES = 30.0
EXCERPT_CHARS = 200


@dataclass(frozen=True)
class Paging:
    """Everything paging needs, built once per configuration (see ``monitor.runtime``)."""

    targets: tuple[TargetConfig, ...]
    incidents: IncidentsConfig = field(default_factory=IncidentsConfig)
    oncall: OnCall | None = None
    links: LinkSigner | None = None

    def enabled_targets(self) -> dict[str, TargetConfig]:
        return {t.name: t for t in self.targets if t.enabled}

    def steps(self, incident: Incident) -> list[float]:
        """Minutes after opening at which each escalation step is due."""
        if self.oncall is None or incident.team is None:
            return [0.0]
        return [s.after_minutes for s in self.oncall.team(incident.team).escalation]

    def repeat(self, incident: Incident) -> timedelta:
        if self.oncall is None or incident.team is None:
            return timedelta(minutes=DEFAULT_REPEAT_MINUTES)
        return timedelta(minutes=self.oncall.team(incident.team).repeat_minutes)

    def recipients(
        self, incident: Incident, step: int, now: datetime
    ) -> tuple[list[str], list[dict[str, str]]]:
        """(target names, people) for an escalation step."""
        enabled = self.enabled_targets()
        if self.oncall is None or incident.team is None:
            wanted = [
                n
                for n, t in enabled.items()
                if priority_rank(incident.severity) <= priority_rank(t.min_priority)
            ]
            return wanted, []
        people = self.oncall.step_recipients(incident.team, step, now)
        names: list[str] = []
        described: list[dict[str, str]] = []
        for key in people:
            person = self.oncall.people[key]
            described.append({"id": key, "name": person.name, "mention": person.mention})
            names += [t for t in person.targets if t in enabled and t not in names]
        return names, described


def _top_messages(session: Session, incident: Incident, limit: int) -> list[dict[str, Any]]:
    m = StoredMessage
    score = m.likes + m.reposts * 3 + m.replies * 2
    rows = session.execute(
        select(m.id, m.text, m.url, m.author_name, m.likes, m.reposts, m.replies, m.created_at, m.source_id)
        .where(m.incident_id == incident.id)
        .order_by(score.desc(), m.id)
        .limit(limit)
    )
    return [
        {
            "message_id": r.id,
            "excerpt": r.text[:EXCERPT_CHARS],
            "url": r.url,
            "author": r.author_name,
            "likes": r.likes,
            "reposts": r.reposts,
            "replies": r.replies,
            "created_at": r.created_at.isoformat(),
        }
        for r in rows
    ]


def incident_payload(
    session: Session,
    incident: Incident,
    step: str,
    people: list[dict[str, str]],
    paging: Paging,
    now: datetime,
) -> dict[str, Any]:
    code = incident.code or ""
    payload: dict[str, Any] = {
        "kind": "incident",
        "step": step,
        "incident": code,
        "title": incident.title,
        "priority": incident.severity,
        "state": incident.state,
        "reason": incident.reason,
        "team": incident.team,
        "messages": incident.message_count,
        "sources": list(incident.sources),
        "heat": round(incident.heat, 1),
        "reach": incident.reach,
        "first_seen": incident.first_seen.isoformat(),
        "last_seen": incident.last_seen.isoformat(),
        "recipients": people,
        "top": _top_messages(session, incident, paging.incidents.top_messages),
        "ack_command": f"yuqing ack {code}",
        "resolve_command": f"yuqing resolve {code}",
    }
    if paging.links is not None:
        payload["ack_url"] = paging.links.url(code, "ack", now)
        payload["resolve_url"] = paging.links.url(code, "resolve", now)
    return payload


def write_rows(
    session: Session, incident: Incident, step: str, targets: Sequence[str], payload: dict[str, Any]
) -> int:
    """One outbox row per target that has not had this step yet (idempotent)."""
    key = f"incident:{incident.id}:{step}"
    done = set(session.scalars(select(Alert.target).where(Alert.dedupe_key == key)))
    count = 0
    for target in targets:
        if target in done:
            continue
        session.add(
            Alert(
                dedupe_key=key,
                target=target,
                kind="incident",
                priority=incident.severity,
                incident_id=incident.id,
                step=step,
                payload=payload,
            )
        )
        count += 1
    return count


def page(
    session: Session, incident: Incident, step: str, escalation_step: int, paging: Paging, now: datetime
) -> int:
    targets, people = paging.recipients(incident, escalation_step, now)
    if not targets:
        log.warning("incident_nobody_to_page", incident=incident.code, step=step)
        return 0
    payload = incident_payload(session, incident, step, people, paging, now)
    if paging.links is None or paging.oncall is None or not people:
        return write_rows(session, incident, step, targets, payload)
    reaches = {p["id"]: paging.oncall.people[p["id"]].targets for p in people}
    return sum(  # each row's ack link is signed for the person that target reaches (issue 11)
        write_rows(session, incident, step, [t], personal_links(payload, t, reaches, paging.links, now))
        for t in targets
    )


def _silenced(session: Session, incident: Incident, now: datetime) -> bool:
    attrs = incident.attributes or {}
    subject = Subject(
        rules=frozenset(attrs.get("rules", ())),
        tags=frozenset(attrs.get("tags", ())),
        sources=frozenset(incident.sources),
        text=incident.title,
    )
    silence = matching(active_silences(session, now), subject)
    if silence is None:
        return False
    session.add(
        IncidentEvent(
            incident_id=incident.id, kind="silenced", new_value=f"{silence.matcher}:{silence.value}", at=now
        )
    )
    return True


def enqueue_incident_pages(
    session: Session, changes: Sequence[IncidentChange], paging: Paging, *, now: datetime
) -> int:
    """First page for opened incidents, a severity notice for raised ones (in the batch transaction)."""
    count = 0
    for change in changes:
        incident = change.incident
        if change.kind == "opened":
            if paging.oncall is not None:
                incident.team = paging.oncall.route(incident.severity, incident.attributes, incident.sources)
            steps = paging.steps(incident)
            incident.escalation_step = 0
            incident.next_escalation_at = (
                incident.opened_at + timedelta(minutes=steps[1])
                if len(steps) > 1
                else now + paging.repeat(incident)
            )
            if _silenced(session, incident, now):
                incident.next_escalation_at = None
                continue
            count += page(session, incident, "page:0:0", 0, paging, now)
        elif change.kind == "raised" and incident.state == "open":
            count += page(
                session, incident, f"raise:{incident.severity}", incident.escalation_step, paging, now
            )
    return count


def escalate_incident(session: Session, incident: Incident, paging: Paging, now: datetime) -> int:
    """Move an unacknowledged incident one step up its chain (or repeat the last step)."""
    steps = paging.steps(incident)
    if incident.escalation_step + 1 < len(steps):
        incident.escalation_step += 1
        incident.page_round = 0
    else:
        incident.page_round += 1
    nxt = incident.escalation_step + 1
    incident.next_escalation_at = (
        max(now, incident.opened_at + timedelta(minutes=steps[nxt]))
        if nxt < len(steps)
        else now + paging.repeat(incident)
    )
    step = f"page:{incident.escalation_step}:{incident.page_round}"
    session.add(IncidentEvent(incident_id=incident.id, kind="escalated", new_value=step, at=now))
    return page(session, incident, step, incident.escalation_step, paging, now)


def cancel_pending_pages(session: Session, incident: Incident, now: datetime) -> int:
    """Pages not yet handed to a sender are dropped once someone acknowledged or resolved."""
    result = session.execute(
        update(Alert)
        .where(
            Alert.incident_id == incident.id,
            Alert.status == "pending",
            Alert.step.like("page:%") | Alert.step.like("raise:%"),
            or_(Alert.claimed_by.is_(None), Alert.next_attempt_at <= now),
        )
        .values(status="cancelled", claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def paged_targets(session: Session, incident: Incident) -> list[str]:
    """Targets that were paged for the incident (or are being paged right now)."""
    return sorted(
        set(
            session.scalars(
                select(Alert.target).where(
                    Alert.incident_id == incident.id,
                    Alert.kind == "incident",
                    Alert.step.like("page:%") | Alert.step.like("raise:%"),
                    Alert.status.in_(("sent", "pending", "folded")),
                )
            )
        )
    )


def _notice(session: Session, incident: Incident, step: str, paging: Paging, now: datetime) -> int:
    payload = incident_payload(session, incident, step, [], paging, now)
    payload.pop("ack_url", None)
    if step == "resolved":
        payload.pop("resolve_url", None)
    payload["acknowledged_by"] = incident.acknowledged_by
    payload["resolved_by"] = incident.resolved_by
    return write_rows(session, incident, step, paged_targets(session, incident), payload)


def acknowledged_notice(session: Session, incident: Incident, paging: Paging, now: datetime) -> int:
    """Tell everyone who was paged that someone took the incident (and who), so they stand down."""
    return _notice(session, incident, "acknowledged", paging, now)


def resolved_notice(session: Session, incident: Incident, paging: Paging, now: datetime) -> int:
    """Tell every target that was paged (or is being paged right now) that it is over."""
    return _notice(session, incident, "resolved", paging, now)
