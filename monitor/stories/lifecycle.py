"""Acknowledge and resolve stories; the timer job (group timers, escalation, auto-resolve).

**One meaning** for ``yuqing ack|resolve REF`` (CLI, ack link, API), whatever ``REF`` is:

* ``REF`` names a story: an incident code (``INC-4``), or a ticket code (``Q000123``) - the
  story the ticket belongs to: the incident its messages joined, else its ticket group.
* **acknowledge** = someone is on it: the story goes ``open -> acknowledged``, every pending
  escalation step and repeat stops for everyone, pages not yet handed to a sender are cancelled,
  everyone already paged gets one "acknowledged by" notice; the incident (if any) becomes
  ``acknowledged`` and every ticket of the story still ``received`` becomes ``processing``.
* **resolve** = it is over: the story, its incident and every ticket of the story become
  ``resolved``; everyone who was paged gets one resolved notice.
* A ticket in no story (it never paged) only changes its own status.
* ``--note`` is stored on the story, the incident and each ticket's trail, and shown by
  ``yuqing story show``.

Each call is one transaction: a state change never exists without its outbox rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from monitor.storage.db import Database
from monitor.storage.models import (
    Alert,
    Incident,
    IncidentEvent,
    Lock,
    StoredMessage,
    Story,
    Ticket,
)
from monitor.stories import members
from monitor.stories.compose import acknowledged_notice, resolved_notice, story_code
from monitor.stories.notify import escalate, notify_due, send, told
from monitor.stories.observe import event
from monitor.stories.settings import StoriesSettings
from monitor.tickets.lifecycle import TransitionError, set_status

log = structlog.get_logger("yuqing.stories")


class UnknownStory(LookupError):
    pass


class StoryStateError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ActionResult:
    code: str
    state: str
    changed: bool
    notices: int = 0
    tickets: int = 0


def find_story(session: Session, ref: str) -> Story | None:
    """The story ``ref`` (``INC-4``, ``Q000123``, ``S17``) names, newest first."""
    ref = ref.strip().upper()
    newest = select(Story).order_by(Story.id.desc()).limit(1)
    if ref.startswith("INC-"):
        incident_id = session.scalar(select(Incident.id).where(Incident.code == ref))
        return session.scalar(newest.where(Story.incident_id == incident_id)) if incident_id else None
    if ref.startswith("S") and ref[1:].isdigit():
        return session.get(Story, int(ref[1:]))
    ticket_id = session.scalar(select(Ticket.id).where(Ticket.code == ref)) if ref.startswith("Q") else None
    if ticket_id is None:
        return None
    rows = session.execute(
        select(StoredMessage.incident_id, StoredMessage.cluster_id).where(
            StoredMessage.ticket_id == ticket_id
        )
    ).all()
    incidents = sorted({r[0] for r in rows if r[0] is not None}, reverse=True)
    clusters = sorted({r[1] for r in rows if r[1] is not None})
    for incident_id in incidents:
        story = session.scalar(newest.where(Story.incident_id == incident_id))
        if story is not None:
            return story
    candidates = [Story.ticket_id == ticket_id]
    if clusters:
        candidates.append(Story.cluster_id.in_(clusters))
    return session.scalar(newest.where(or_(*candidates)))


def cancel_pending_pages(session: Session, story: Story, now: datetime) -> int:
    """Pages not yet handed to a sender are dropped once someone acknowledged or resolved."""
    result = session.execute(
        update(Alert)
        .where(
            Alert.story_id == story.id,
            Alert.status == "pending",
            Alert.step.like("page:%") | Alert.step.like("raise:%") | Alert.step.like("update:%"),
            or_(Alert.claimed_by.is_(None), Alert.next_attempt_at <= now),
        )
        .values(status="cancelled", claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _tickets(session: Session, story: Story) -> list[Ticket]:
    ids = set(members.ticket_ids(session, story.id))
    if story.incident_id is not None:
        ids |= set(
            session.scalars(
                select(StoredMessage.ticket_id).where(
                    StoredMessage.incident_id == story.incident_id, StoredMessage.ticket_id.is_not(None)
                )
            )
        )
    ids.discard(None)
    return list(session.scalars(select(Ticket).where(Ticket.id.in_(sorted(ids))))) if ids else []


def _move_tickets(
    session: Session, story: Story, status: str, actor: str, note: str | None, now: datetime
) -> int:
    """Move the story's tickets along the ticket state machine; a ticket already there, or one the
    machine does not let move (a resolved ticket on ack, a closed one), is left as it is."""
    moved = 0
    for ticket in _tickets(session, story):
        if ticket.status == status:
            continue
        try:
            set_status(session, ticket, status, actor=actor[:128], note=note, now=now)
        except TransitionError:
            continue
        moved += 1
    return moved


def _incident_state(
    session: Session, story: Story, state: str, actor: str, note: str | None, now: datetime
) -> None:
    incident = session.get(Incident, story.incident_id) if story.incident_id is not None else None
    if incident is None or incident.state == state or incident.state == "resolved":
        return
    session.add(
        IncidentEvent(
            incident_id=incident.id,
            kind="state",
            old_value=incident.state,
            new_value=state,
            actor=actor[:128],
            note=note,
            at=now,
        )
    )
    incident.state, incident.updated_at = state, now
    incident.next_escalation_at = None
    if state == "acknowledged":
        incident.acknowledged_at, incident.acknowledged_by = now, actor[:128]
    else:
        incident.resolved_at, incident.resolved_by = now, actor[:128]


def change_state(
    session: Session,
    settings: StoriesSettings,
    story: Story,
    state: str,
    *,
    actor: str,
    now: datetime,
    note: str | None,
) -> ActionResult:
    """Acknowledge or resolve ``story`` (see the module docstring); idempotent."""
    code = story_code(session, story)
    if story.state == "resolved" and state == "acknowledged":
        raise StoryStateError(f"{code} is already resolved")
    if story.state == state:
        return ActionResult(code, story.state, False)
    event(session, story, "state", now, old=story.state, new=state, actor=actor, note=note)
    story.state, story.updated_at = state, now
    story.next_escalation_at = story.notify_at = None
    if state == "acknowledged":
        story.acknowledged_at, story.acknowledged_by = now, actor[:128]
    else:
        story.resolved_at, story.resolved_by = now, actor[:128]
    cancel_pending_pages(session, story, now)
    _incident_state(session, story, state, actor, note, now)
    tickets = _move_tickets(
        session, story, "processing" if state == "acknowledged" else "resolved", actor, note, now
    )
    notice = (
        acknowledged_notice(session, story, note)
        if state == "acknowledged"
        else resolved_notice(session, story, note)
    )
    notices = send(session, settings, story, notice, told(session, story))
    log.info(f"story_{state}", story=code, actor=actor, notices=notices, tickets=tickets)
    return ActionResult(code, state, True, notices, tickets)


def serialise(session: Session) -> None:
    """Take the ``incidents`` row lock first, like the batch transaction does: story rows are then
    always locked under it, so a timer run or an ack never deadlocks with a batch (PostgreSQL,
    MariaDB; SQLite serialises writers anyway)."""
    session.execute(select(Lock.name).where(Lock.name == "incidents").with_for_update())


def act(
    db: Database,
    settings: StoriesSettings,
    ref: str,
    state: str,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> ActionResult:
    """``yuqing ack|resolve REF`` in one transaction (UnknownStory if ``REF`` names no story)."""
    with db.transaction() as session:
        serialise(session)
        story = find_story(session, ref)
        if story is None:
            raise UnknownStory(f"no story for {ref!r}")
        return change_state(session, settings, story, state, actor=actor, now=now, note=note)


def acknowledge_ref(
    db: Database, ref: str, settings: StoriesSettings, *, actor: str, now: datetime, note: str | None = None
) -> ActionResult:
    return act(db, settings, ref, "acknowledged", actor=actor, now=now, note=note)


def resolve_ref(
    db: Database, ref: str, settings: StoriesSettings, *, actor: str, now: datetime, note: str | None = None
) -> ActionResult:
    return act(db, settings, ref, "resolved", actor=actor, now=now, note=note)


@dataclass
class TimerStats:
    notified: int = 0
    escalated: int = 0
    pages: int = 0
    auto_resolved: int = 0


def run_timers(db: Database, settings: StoriesSettings, *, now: datetime) -> TimerStats:
    """The ``housekeeping:stories`` job: due group timers, escalation steps, quiet incidents."""
    stats = TimerStats()
    with db.transaction() as session:
        serialise(session)
        stats.notified = notify_due(session, settings, now)
        stats.pages += stats.notified
        cutoff = now - timedelta(minutes=settings.incidents.quiet_minutes)
        quiet = (
            select(Story)
            .join(Incident, Incident.id == Story.incident_id)
            .where(Story.state != "resolved", Incident.last_seen <= cutoff, Incident.opened_at <= cutoff)
        )
        for story in list(session.scalars(quiet.order_by(Story.id))):
            stats.pages += change_state(
                session, settings, story, "resolved", actor="auto", now=now, note="quiet period"
            ).notices
            stats.auto_resolved += 1
        due = select(Story).where(
            Story.state == "open", Story.next_escalation_at.is_not(None), Story.next_escalation_at <= now
        )
        for story in list(session.scalars(due.order_by(Story.id).with_for_update())):
            stats.pages += escalate(session, settings, story, now)
            stats.escalated += 1
    if stats.pages or stats.auto_resolved:
        log.info(
            "story_timers",
            notified=stats.notified,
            escalated=stats.escalated,
            pages=stats.pages,
            auto_resolved=stats.auto_resolved,
        )
    return stats
