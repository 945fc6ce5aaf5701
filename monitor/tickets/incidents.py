"""Incident detection: cluster near-duplicate posts across sources, open incidents on spikes or heat.

Runs inside the batch transaction, after tickets (see ``monitor.pipeline``). The step takes the
``incidents`` row lock first, so batches of different sources that may join the same story are
serialised on PostgreSQL/MariaDB (SQLite serialises every writer anyway).

A story (cluster) becomes an incident when a rule fired on one of its posts (configurable) and
either a spike rule holds - ``min_count`` posts in the window and ``baseline_factor`` times the
story's own average per window before it - or its heat (engagement and author reach) crosses a
threshold. Later posts join the open incident; its severity can only rise. Paging is not done
here (tickets never import alerts): the step returns :class:`IncidentChange` records for the
alert stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from monitor.findings import Priority, most_urgent
from monitor.storage.models import Cluster, Incident, IncidentEvent, Lock, Source, StoredMessage
from monitor.stored import NewMessage
from monitor.tickets.clustering import (
    cluster_messages,
    heat_of,
    message_heat,
    post_fingerprint,
    post_text,
    remember_fingerprints,
)
from monitor.tickets.incident_settings import IncidentsConfig
from monitor.tickets.spikes import SpikeQuery, SpikeResult, spike_levels

_CHUNK = 400
__all__ = [
    "IncidentChange",
    "IncidentResult",
    "heat_of",
    "message_heat",
    "post_fingerprint",
    "post_text",
    "remember_fingerprints",
    "update_incidents",
]


def incident_code(incident_id: int) -> str:
    return f"INC-{incident_id}"


@dataclass
class IncidentChange:
    """What one batch did to one incident: ``opened``, ``raised`` (severity) or ``grew``."""

    incident: Incident
    kind: str
    old_severity: str | None = None
    messages: list[NewMessage] = field(default_factory=list)


_MESSAGES = cast(Table, StoredMessage.__table__)
# The statements of every batch, built once: building a statement and its cache key per call cost
# more CPU than running it (bench/intake_cpu.py); the SQL is the same.
_LOCK = select(Lock.name).where(Lock.name == "incidents").with_for_update()
_INCIDENTS = select(Incident).where(Incident.id.in_(bindparam("ids", expanding=True)))
_SET_INCIDENT = (
    update(StoredMessage)
    .where(StoredMessage.id.in_(bindparam("ids", expanding=True)))
    .values(incident_id=bindparam("incident_id"))
    .execution_options(synchronize_session=False)
)


def _set_incident(session: Session, ids: Sequence[int], incident_id: int) -> None:
    for start in range(0, len(ids), _CHUNK):
        session.execute(_SET_INCIDENT, {"ids": ids[start : start + _CHUNK], "incident_id": incident_id})


def heat_level(config: IncidentsConfig, heat: float) -> Priority | None:
    levels = [level for level, minimum in config.heat.thresholds.items() if heat >= minimum]
    return most_urgent(*levels)


def _event(
    session: Session,
    incident: Incident,
    kind: str,
    old: str | None,
    new: str | None,
    at: datetime,
    *,
    actor: str = "system",
    note: str | None = None,
) -> None:
    session.add(
        IncidentEvent(
            incident_id=incident.id, kind=kind, old_value=old, new_value=new, actor=actor, note=note, at=at
        )
    )


def _attributes(items: Sequence[NewMessage], old: dict[str, list[str]]) -> dict[str, list[str]]:
    out = {key: set(values) for key, values in old.items()}
    for item in items:
        out.setdefault("channels", set()).add(item.message.channel)
        for finding in item.analysis.findings:
            out.setdefault("rules", set()).add(finding.rule_id)
            out.setdefault("tags", set()).update(finding.tags)
            for name in ("category", "department", "feedback_type"):
                value = getattr(finding, name)
                if value:
                    out.setdefault(name, set()).add(value)
    return {key: sorted(values) for key, values in out.items()}


def _row_attributes(rows: Sequence[StoredMessage]) -> dict[str, list[str]]:
    """Attributes of every post the incident claims (from their stored analysis), so an incident
    carries the same attributes whichever batch opened it."""
    out: dict[str, set[str]] = {}
    for row in rows:
        record = row.analysis or {}
        out.setdefault("channels", set()).add(row.channel)
        for finding in record.get("findings") or []:
            out.setdefault("rules", set()).add(str(finding["rule_id"]))
            out.setdefault("tags", set()).update(str(t) for t in finding.get("tags") or ())
            for name in ("category", "department", "feedback_type"):
                if finding.get(name):
                    out.setdefault(name, set()).add(str(finding[name]))
        if not record.get("findings"):
            out.setdefault("rules", set()).update(str(r) for r in record.get("rules") or ())
    return {key: sorted(values) for key, values in out.items()}


def _source_names(session: Session, ids: set[int]) -> list[str]:
    return sorted(session.scalars(select(Source.name).where(Source.id.in_(ids)))) if ids else []


def _open(
    session: Session,
    cluster: Cluster,
    items: list[NewMessage],
    config: IncidentsConfig,
    severity: Priority,
    reason: str,
    now: datetime,
) -> Incident:
    since = _last_resolved(session, cluster)
    query = select(StoredMessage).where(
        StoredMessage.cluster_id == cluster.id, StoredMessage.incident_id.is_(None)
    )
    if since is not None:
        query = query.where(StoredMessage.created_at > since)
    rows = list(session.scalars(query))
    incident = Incident(
        state="open",
        severity=severity,
        title=cluster.title[:255],
        reason=reason[:255],
        message_count=len(rows),
        heat=sum(heat_of(config, r.likes, r.reposts, r.replies, r.author_followers) for r in rows),
        reach=sum(r.author_followers or 0 for r in rows),
        sources=_source_names(session, {r.source_id for r in rows}),
        attributes=_row_attributes(rows),
        first_seen=min(r.created_at for r in rows),
        last_seen=max(r.created_at for r in rows),
        opened_at=now,
        updated_at=now,
    )
    session.add(incident)
    session.flush()
    incident.code = incident_code(incident.id)
    cluster.incident_id = incident.id
    _set_incident(session, [r.id for r in rows], incident.id)
    _event(session, incident, "opened", None, severity, now, note=reason)
    return incident


def _last_resolved(session: Session, cluster: Cluster) -> datetime | None:
    if cluster.incident_id is None:
        return None
    incident = session.get(Incident, cluster.incident_id)
    return incident.resolved_at if incident is not None and incident.state == "resolved" else None


def _grow(
    session: Session, incident: Incident, items: list[NewMessage], config: IncidentsConfig, now: datetime
) -> None:
    _set_incident(session, [item.row.id for item in items], incident.id)
    incident.message_count += len(items)
    incident.heat += sum(message_heat(config, i.message) for i in items)
    incident.reach += sum(i.message.author.followers or 0 for i in items)
    incident.last_seen = max(incident.last_seen, *(i.message.created_at for i in items))
    incident.sources = sorted(set(incident.sources) | {i.message.source for i in items})
    incident.attributes = _attributes(items, dict(incident.attributes))
    incident.updated_at = now


@dataclass
class IncidentResult:
    """What the incident step did to a batch: incident changes, and each new post's cluster."""

    changes: list[IncidentChange] = field(default_factory=list)
    clusters: dict[int, int] = field(default_factory=dict)  # message row id -> cluster id


def _heat_first(config: IncidentsConfig, cluster: Cluster, items: Sequence[NewMessage]) -> datetime | None:
    """When the story's heat first reached an incident threshold (None: it did not)."""
    if not config.heat.thresholds:
        return None
    bar = min(config.heat.thresholds.values())
    heat = cluster.heat - sum(message_heat(config, i.message) for i in items)
    for item in items:
        heat += message_heat(config, item.message)
        if heat >= bar:
            return item.message.created_at
    return None


def update_incidents(
    session: Session, new: Sequence[NewMessage], config: IncidentsConfig, *, now: datetime
) -> IncidentResult:
    """Cluster the batch's posts and open, grow or raise incidents (see module docstring).

    Posts are taken in timestamp order and the rules are evaluated at each post's time, and
    stories open in the order their rule first held: the same posts cut into batches of 1, 25 or
    500 open the same incidents. Clustering runs even with incidents disabled (stories group by
    cluster).
    """
    if not new:
        return IncidentResult()
    if session.get_bind().dialect.name != "sqlite":  # SQLite's BEGIN IMMEDIATE already excludes other writers
        session.execute(_LOCK)
    ordered = sorted(new, key=lambda i: (i.message.created_at, i.row.id))
    touched = list(cluster_messages(session, ordered, config, now=now).values())
    result = IncidentResult(clusters={i.row.id: c.id for c, items in touched for i in items})
    if not config.enabled:
        return result
    linked = sorted({c.incident_id for c, _ in touched if c.incident_id})
    held: list[Incident] = []  # kept referenced: the identity map holds unmodified rows weakly, and
    for begin in range(0, len(linked), _CHUNK):  # session.get below would load each one again
        held += session.scalars(_INCIDENTS, {"ids": linked[begin : begin + _CHUNK]}).all()
    queries: list[SpikeQuery] = []
    for cluster, items in touched:
        current = session.get(Incident, cluster.incident_id) if cluster.incident_id else None
        since = current.resolved_at if current is not None and current.state == "resolved" else None
        ends = tuple(sorted({i.message.created_at for i in items}))
        queries.append(SpikeQuery(cluster.id, cluster.message_count, ends, since))
    spikes = spike_levels(session, queries, config)
    openings: list[tuple[datetime, int, Cluster, list[NewMessage], Priority, str]] = []
    for cluster, items in touched:
        current = session.get(Incident, cluster.incident_id) if cluster.incident_id else None
        active = current if current is not None and current.state != "resolved" else None
        spike = spikes[cluster.id]
        if active is not None:
            result.changes.append(_grow_or_raise(session, active, items, config, spike, now))
            continue
        if config.require_finding and cluster.priority is None:
            continue
        heat = heat_level(config, cluster.heat)
        trigger = most_urgent(spike.priority, heat)
        if trigger is None:
            continue
        reason = spike.why if spike.priority == trigger else f"heat {cluster.heat:.0f}"
        first = min(t for t in (spike.first, _heat_first(config, cluster, items) if heat else None) if t)
        openings.append((first, cluster.id, cluster, items, trigger, reason))
    for _first, _id, cluster, items, trigger, reason in sorted(openings, key=lambda o: (o[0], o[1])):
        incident = _open(session, cluster, items, config, trigger, reason, now)
        result.changes.append(IncidentChange(incident, "opened", None, items))
    return result


def _grow_or_raise(
    session: Session,
    active: Incident,
    items: list[NewMessage],
    config: IncidentsConfig,
    spike: SpikeResult,
    now: datetime,
) -> IncidentChange:
    _grow(session, active, items, config, now)
    severity = most_urgent(active.severity, spike.priority, heat_level(config, active.heat))
    if severity is not None and severity != active.severity:
        old = active.severity
        active.severity = severity
        _event(session, active, "severity", old, severity, now, note=spike.why or "heat")
        return IncidentChange(active, "raised", old, items)
    return IncidentChange(active, "grew", active.severity, items)
