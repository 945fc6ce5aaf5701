"""What one batch does to stories: open, grow, adopt (a ticket story becomes an incident), raise.

Runs in the batch transaction after tickets and incidents. A story is an incident, or the
alerting tickets of one near-duplicate cluster (a lone ticket when its message has no cluster)
that belong to no incident. Its first notification waits ``group_wait`` (``notify_at``, a
column: crash and multi-instance safe); later messages only count towards the next update.

Inhibition: a ticket whose new messages all joined an incident in this batch opens no story of
its own; when an incident opens on a cluster that already has a ticket story, the incident takes
that story over (same people, no second page).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, or_, select
from sqlalchemy.orm import Session

from monitor.findings import most_urgent, priority_rank
from monitor.storage.bulk import queue_row, written_together
from monitor.storage.models import Incident, Story, StoryEvent
from monitor.stored import NewMessage
from monitor.stories import members
from monitor.stories.routes import Subject
from monitor.stories.settings import StoriesSettings
from monitor.tickets.incidents import IncidentChange
from monitor.tickets.service import TicketChange, event_row, write_events

ACTIVE = ("open", "acknowledged")
_CHUNK = 500
STORY_EVENTS = cast(Table, StoryEvent.__table__)
# The active stories by each key, built once (every batch runs them): building a select and its
# cache key per call cost more CPU than running it (bench/intake_cpu.py); the SQL is the same.
_KEYS = (("cluster", Story.cluster_id), ("ticket", Story.ticket_id), ("incident", Story.incident_id))
_ACTIVE_BY = {
    name: select(Story)
    .where(Story.state.in_(ACTIVE), column.in_(bindparam("keys", expanding=True)))
    .order_by(Story.id)
    for name, column in _KEYS
}
_ACTIVE_ANY = (
    select(Story)
    .where(Story.state.in_(ACTIVE), or_(*(column.in_(bindparam(name, expanding=True)) for name, column in _KEYS)))
    .order_by(Story.id)
)


def subject_of(
    kind: str,
    priority: str | None,
    items: Iterable[NewMessage],
    extra: Mapping[str, Sequence[str]] | None = None,
) -> Subject:
    """The route subject of a notice about ``items`` (plus an incident's stored attributes)."""
    extra = extra or {}
    found: dict[str, set[str]] = {
        k: set(extra.get(k, ())) for k in ("feedback_type", "category", "department", "tags", "rules")
    }
    channels: set[str] = set(extra.get("channels", ()))
    sources: set[str] = set(extra.get("sources", ()))
    for item in items:
        channels.add(item.message.channel)
        sources.add(item.message.source)
        for finding in item.analysis.findings:
            found["rules"].add(finding.rule_id)
            found["tags"].update(finding.tags)
            for name in ("feedback_type", "category", "department"):
                value = getattr(finding, name)
                if value:
                    found[name].add(value)
    return Subject(
        kind=kind,
        priority=priority,
        types=frozenset(found["feedback_type"]),
        categories=frozenset(found["category"]),
        teams=frozenset(found["department"]),
        tags=frozenset(found["tags"]),
        rules=frozenset(found["rules"]),
        channels=frozenset(channels),
        sources=frozenset(sources),
    )


def event(
    session: Session,
    story: Story,
    kind: str,
    now: datetime,
    *,
    old: str | None = None,
    new: str | None = None,
    actor: str = "system",
    note: str | None = None,
) -> None:
    """A story event; queued when the caller writes its rows together (``monitor.storage.bulk``)."""
    row = {"story_id": story.id, "kind": kind, "old_value": old, "new_value": new, "actor": actor[:128],
           "note": note, "at": now}
    if not queue_row(session, STORY_EVENTS, row):
        session.add(StoryEvent(**row))


def _route(story: Story, settings: StoriesSettings, subject: Subject, now: datetime) -> None:
    routing = settings.routes.match(subject)
    story.route = routing.path[:255]
    story.receivers = list(routing.receivers)
    story.team = routing.oncall
    story.group_wait_s = routing.group_wait
    story.group_interval_s = routing.group_interval
    story.repeat_interval_s = routing.repeat_interval
    story.subject = subject.record()
    story.notify_at = now + timedelta(seconds=routing.group_wait)


def _open(
    session: Session, settings: StoriesSettings, subject: Subject, now: datetime, **columns: object
) -> Story:
    story = Story(
        state="open",
        opened_at=now,
        updated_at=now,
        updates=0,
        escalation_step=0,
        page_round=0,
        pending_messages=0,
        **columns,
    )
    _route(story, settings, subject, now)
    session.add(story)  # flushed once for the whole batch (observe), then its "opened" event
    return story


def grow(story: Story, count: int, severity: str | None, now: datetime) -> None:
    """More messages: counted for the next update; a raise above what was told re-notifies once."""
    story.message_count += count
    story.severity = most_urgent(story.severity, severity)
    story.updated_at = now
    if story.paged_at is None:
        return  # the first notification (group_wait) will carry them
    story.pending_messages += count
    if story.state != "open":
        return
    if priority_rank(story.severity) < priority_rank(story.notified_severity):
        story.notify_at = now
    elif story.notify_at is None:
        assert story.notified_at is not None
        story.notify_at = max(now, story.notified_at + timedelta(seconds=story.group_interval_s))


class Active:
    """The open or acknowledged stories a batch can touch, by cluster, first ticket and incident:
    loaded with one query of three ``IN`` lists per batch (a few per key past 500 keys), not two
    queries per ticket."""

    def __init__(
        self, session: Session, clusters: Iterable[int], tickets: Iterable[int], incidents: Iterable[int]
    ) -> None:
        self.by_cluster: dict[int, Story] = {}
        self.by_ticket: dict[int, Story] = {}
        self.by_incident: dict[int, Story] = {}
        self.opened: list[Story] = []
        self.joined: dict[int, tuple[Story, set[int]]] = {}  # by id(story): tickets to add (join_tickets)
        self.inhibited: list[dict[str, object]] = []  # "inhibited" ticket events, one executemany (observe)
        wanted = {"cluster": sorted(set(clusters)), "ticket": sorted(set(tickets)), "incident": sorted(set(incidents))}
        if not any(wanted.values()):
            return
        if all(len(ordered) <= _CHUNK for ordered in wanted.values()):
            # One query for the three keys (an incident's story matches two of them, and was loaded
            # twice); then the same three passes over its rows as the queries by key gave them.
            loaded = list(session.scalars(_ACTIVE_ANY, wanted))
            for name, _column in _KEYS:
                keys = set(wanted[name])
                for story in loaded:
                    if getattr(story, f"{name}_id") in keys:
                        self.add(story)  # the newest story wins
            return
        for name, ordered in wanted.items():
            for start in range(0, len(ordered), _CHUNK):
                for story in session.scalars(_ACTIVE_BY[name], {"keys": ordered[start : start + _CHUNK]}):
                    self.add(story)  # the newest story wins

    def join(self, story: Story, ticket_id: int) -> None:
        """``ticket_id`` belongs to ``story`` from this batch on; written for the whole batch by
        :meth:`join_tickets` once the new stories have ids (``monitor.stories.members``)."""
        self.joined.setdefault(id(story), (story, set()))[1].add(ticket_id)

    def join_tickets(self, session: Session) -> None:
        members.add(session, {story.id: ids for story, ids in self.joined.values()})
        self.joined.clear()

    def new(self, story: Story) -> Story:
        """A story opened by this batch (it has no id until the batch's one flush)."""
        self.opened.append(story)
        return self.add(story)

    def add(self, story: Story) -> Story:
        if story.cluster_id is not None:
            self.by_cluster[story.cluster_id] = story
        if story.ticket_id is not None:
            self.by_ticket[story.ticket_id] = story
        if story.incident_id is not None:
            self.by_incident[story.incident_id] = story
        return story


def _incident_story(
    session: Session,
    settings: StoriesSettings,
    change: IncidentChange,
    clusters: Mapping[int, int],
    active: Active,
    now: datetime,
) -> Story:
    incident: Incident = change.incident
    cluster = next((clusters[i.row.id] for i in change.messages if i.row.id in clusters), None)
    story = active.by_incident.get(incident.id)
    if story is None and cluster is not None:
        story = active.by_cluster.get(cluster)
        if story is not None and story.incident_id is None:  # the incident takes the ticket story over
            story.kind, story.incident_id, story.title = "incident", incident.id, incident.title[:255]
            event(session, story, "incident", now, new=incident.code)
            active.add(story)
        else:
            story = None
    attrs = {**(incident.attributes or {}), "sources": list(incident.sources)}
    if story is None:
        subject = subject_of("incident", incident.severity, change.messages, attrs)
        story = active.new(
            _open(
                session,
                settings,
                subject,
                now,
                kind="incident",
                severity=incident.severity,
                title=incident.title[:255],
                cluster_id=cluster,
                incident_id=incident.id,
                message_count=incident.message_count,
            )
        )
        incident.team = story.team
        return story
    if story.paged_at is None:  # not told yet: route it as the incident it now is
        keep = story.notify_at
        _route(story, settings, subject_of("incident", incident.severity, change.messages, attrs), now)
        story.notify_at = (
            min(keep, story.notify_at) if keep is not None and story.notify_at else story.notify_at
        )
    grow(story, len(change.messages), incident.severity, now)
    incident.team = story.team
    return story


def _ticket_story(
    session: Session,
    settings: StoriesSettings,
    change: TicketChange,
    items: list[NewMessage],
    clusters: Mapping[int, int],
    active: Active,
    now: datetime,
) -> Story | None:
    ticket = change.ticket
    cluster = next((clusters[i.row.id] for i in items if i.row.id in clusters), None)
    story = active.by_cluster.get(cluster) if cluster is not None else None
    story = story or active.by_ticket.get(ticket.id)
    pages = change.alerting and (change.created or change.escalated)
    if story is not None:
        active.join(story, ticket.id)
        grow(story, len(items), ticket.priority if change.alerting else None, now)
        return story
    if not pages:
        return None
    trigger = next(
        (i for i in items if i.analysis.alert and i.analysis.priority == ticket.priority), items[0]
    )
    subject = subject_of("ticket", ticket.priority, items)
    story = active.new(
        _open(
            session,
            settings,
            subject,
            now,
            kind="ticket",
            severity=ticket.priority,
            title=ticket.title[:255],
            cluster_id=cluster,
            ticket_id=ticket.id,
            message_id=trigger.row.id,
            message_count=len(items),
        )
    )
    active.join(story, ticket.id)
    return story


def observe(
    session: Session,
    settings: StoriesSettings,
    tickets: Sequence[TicketChange],
    incidents: Sequence[IncidentChange],
    clusters: Mapping[int, int],
    now: datetime,
) -> list[Story]:
    """Open or grow the stories this batch touched; return them, by id (see module docstring)."""
    touched: dict[int, Story] = {}  # by id(story): new stories get their ids at the flush below
    inhibited: dict[int, Incident] = {}
    active = Active(
        session,
        clusters.values(),
        [c.ticket.id for c in tickets],
        [c.incident.id for c in incidents],
    )
    for incident_change in incidents:
        story = _incident_story(session, settings, incident_change, clusters, active, now)
        touched[id(story)] = story
        inhibited.update({i.row.id: incident_change.incident for i in incident_change.messages})
    for change in tickets:
        items = [i for i in change.messages if i.row.id not in inhibited]
        if items:
            found = _ticket_story(session, settings, change, items, clusters, active, now)
            if found is not None:
                touched[id(found)] = found
        else:
            _inhibit(session, change, inhibited[change.messages[0].row.id], active, now)
    session.flush()
    active.join_tickets(session)
    write_events(session, active.inhibited)  # one executemany, not one INSERT per ticket (unit of work)
    with written_together(session):
        for story in active.opened:
            event(session, story, "opened", now, new=story.severity, note=story.route)
    return sorted(touched.values(), key=lambda story: story.id)


def _inhibit(
    session: Session, change: TicketChange, incident: Incident, active: Active, now: datetime
) -> None:
    """A ticket whose new messages all joined an incident: it belongs to the incident's story
    and does not page on its own (its trail says so)."""
    story = active.by_incident.get(incident.id)
    if story is not None:
        active.join(story, change.ticket.id)
    if change.alerting and (change.created or change.escalated):
        active.inhibited.append(event_row(change.ticket.id, "inhibited", now, new_value=incident.code))
