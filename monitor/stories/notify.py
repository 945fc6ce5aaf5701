"""Group timers and pages: the first notification, updates, raises and escalation steps.

Every notification is an ``alerts`` row written in the transaction that moves the story's timer
(``notify_at``, ``next_escalation_at``), so a crash before the commit leaves the timer due and a
crash after it leaves the row in the outbox: the notice is written exactly once either way, and
the unique ``(dedupe_key, target)`` - ``story:<id>:<step>`` - keeps two instances from writing
it twice.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

import structlog
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, defer
from sqlalchemy.orm.attributes import set_committed_value

from monitor.findings import priority_rank
from monitor.ingest.store import stored_records
from monitor.notices import Notice, Person
from monitor.storage.bulk import written_together
from monitor.storage.models import Alert, Silence, StoredMessage, Story, Ticket
from monitor.stories.compose import page_notice, update_notice
from monitor.stories.observe import event
from monitor.stories.queue import wanted, write_rows
from monitor.stories.settings import StoriesSettings
from monitor.stories.silences import active_silences
from monitor.stories.silencing import silenced

log = structlog.get_logger("yuqing.stories")
PAGE_STEPS = ("page:%", "raise:%")
# Built once (every batch runs it; building a select and its cache key per call cost more CPU than
# running it); the SQL is the same.
_MESSAGES_BUT_ANALYSIS = (
    select(StoredMessage)
    .where(StoredMessage.id.in_(bindparam("ids", expanding=True)))
    .options(defer(StoredMessage.analysis))
)


def steps(settings: StoriesSettings, story: Story) -> list[float]:
    """Minutes after the first page at which each escalation step is due."""
    if settings.oncall is None or story.team is None or story.team not in settings.oncall.config.teams:
        return [0.0]
    return [s.after_minutes for s in settings.oncall.team(story.team).escalation]


def repeat(settings: StoriesSettings, story: Story) -> timedelta:
    """After the last step: the team's ``repeat_minutes``, else the route's ``repeat_interval``."""
    if settings.oncall is not None and story.team in settings.oncall.config.teams:
        return timedelta(minutes=settings.oncall.team(str(story.team)).repeat_minutes)
    return timedelta(seconds=story.repeat_interval_s)


def step_people(
    settings: StoriesSettings, story: Story, step: int, now: datetime
) -> tuple[list[str], list[Person]]:
    """(targets, people) of escalation step ``step`` of the story's on-call team."""
    oncall = settings.oncall
    if oncall is None or story.team is None or story.team not in oncall.config.teams:
        return [], []
    targets: list[str] = []
    people: list[Person] = []
    for key in oncall.step_recipients(story.team, step, now):
        person = oncall.people[key]
        people.append(Person(id=key, name=person.name, mention=person.mention))
        targets += [t for t in person.targets if t not in targets]
    return targets, people


def told(session: Session, story: Story) -> list[str]:
    """Targets paged for the story so far (sent, being sent, or held by noise control)."""
    query = select(Alert.target).where(
        Alert.story_id == story.id,
        Alert.step.like(PAGE_STEPS[0]) | Alert.step.like(PAGE_STEPS[1]),
        Alert.status.in_(("sent", "pending", "folded")),
    )
    return sorted(set(session.scalars(query)))


def send(
    session: Session,
    settings: StoriesSettings,
    story: Story,
    notice: Notice,
    names: Collection[str],
    *,
    fresh: bool = False,
) -> int:
    targets = wanted(
        settings.targets, names, None if notice.kind in ("resolved", "acknowledged") else story.severity
    )
    return write_rows(
        session,
        f"story:{story.id}:{notice.step}",
        targets,
        notice,
        story_id=story.id,
        ticket_id=story.ticket_id,
        incident_id=story.incident_id,
        message_id=story.message_id,
        fresh=fresh,
    )


def page(
    session: Session,
    settings: StoriesSettings,
    story: Story,
    step: str,
    level: int,
    now: datetime,
    *,
    everyone: bool = False,
    fresh: bool = False,
) -> int:
    """A page for ``step``: the step's on-call people, plus the route's receivers on the first
    page and on repeats of a story without a team, plus everyone told so far when ``everyone``."""
    targets, people = step_people(settings, story, level, now)
    names = list(targets)
    if step == "page:0:0" or everyone or not story.team:
        names += list(story.receivers or [])
    if everyone:
        names += told(session, story)
    if not names:
        log.warning("story_nobody_to_page", story=story.id, step=step)
        return 0
    notice = page_notice(session, story, step, people, settings.incidents.top_messages)
    return send(session, settings, story, notice, names, fresh=fresh)


def first_page(
    session: Session,
    settings: StoriesSettings,
    story: Story,
    now: datetime,
    silences: list[Silence] | None = None,
) -> int:
    if silenced(session, story, now, silences):
        return 0
    story.paged_at = story.notified_at = now
    story.notified_severity = story.severity
    story.pending_messages = 0
    chain = steps(settings, story)
    story.next_escalation_at = (
        now + timedelta(minutes=chain[1]) if len(chain) > 1 else now + repeat(settings, story)
    )
    event(session, story, "paged", now, new="page:0:0")
    return page(session, settings, story, "page:0:0", 0, now, fresh=True)


def _raise(session: Session, settings: StoriesSettings, story: Story, now: datetime) -> int:
    old, story.notified_severity = story.notified_severity, story.severity
    story.notified_at = now
    story.pending_messages = 0
    event(session, story, "raised", now, old=old, new=story.severity)
    return page(
        session, settings, story, f"raise:{story.severity}", story.escalation_step, now, everyone=True
    )


def _update(session: Session, settings: StoriesSettings, story: Story, now: datetime) -> int:
    story.updates += 1
    count, story.pending_messages = story.pending_messages, 0
    story.notified_at = now
    notice = update_notice(session, story, count, settings.incidents.top_messages)
    return send(session, settings, story, notice, told(session, story))


def notify(
    session: Session, settings: StoriesSettings, story: Story, now: datetime, silences: list[Silence]
) -> int:
    """The notification a due group timer stands for (at most one)."""
    story.notify_at = None
    if story.state == "resolved":
        return 0
    if story.paged_at is None:
        return first_page(session, settings, story, now, silences) if story.state == "open" else 0
    if story.state != "open":
        return 0
    if priority_rank(story.severity) < priority_rank(story.notified_severity):
        return _raise(session, settings, story, now)
    if story.pending_messages:
        return _update(session, settings, story, now)
    return 0


def notify_due(
    session: Session, settings: StoriesSettings, now: datetime, *, only: Sequence[Story] | None = None
) -> int:
    """Fire every due group timer (or only those of ``only``); returns the rows written.

    ``only``: stories this transaction just opened or grew (``observe``), in the session: their
    due ones are picked from their timers in memory - this transaction wrote every one of them, so
    it holds their rows' locks already - and not loaded again."""
    timer = (Story.notify_at.is_not(None), Story.notify_at <= now)
    if only is not None:
        due = sorted((s for s in only if s.notify_at is not None and s.notify_at <= now), key=lambda s: s.id)
    else:
        due = list(session.scalars(select(Story).where(*timer).order_by(Story.id).with_for_update()))
    if not due:
        return 0
    count = 0
    silences = active_silences(session, now)
    held = _prefetch(session, due)  # noqa: F841 - kept referenced: the identity map holds rows weakly
    with written_together(session):  # each story is notified once here: no row is read back
        for story in due:
            count += notify(session, settings, story, now, silences)
    return count


def _prefetch(session: Session, stories: Sequence[Story]) -> list[object]:
    """The stories' opening messages and tickets into the identity map, a few ``IN`` queries for
    the batch instead of one ``session.get`` per page. The caller keeps the returned rows
    referenced while it composes the pages: the identity map only holds unmodified rows weakly,
    and rows dropped from it would be loaded again one by one."""
    held: list[object] = []
    records = stored_records(session)
    for model, ids in (
        (StoredMessage, {s.message_id for s in stories if s.message_id is not None}),
        (Ticket, {s.ticket_id for s in stories if s.ticket_id is not None}),
    ):
        missing: list[int] = []
        for row_id in sorted(ids):
            found = session.identity_map.get(session.identity_key(model, row_id))
            if found is None:
                missing.append(row_id)
            else:
                held.append(found)
        if model is StoredMessage:  # stored by this transaction: the analysis as inserted, not decoded again
            known = [row_id for row_id in missing if row_id in records]
            missing = [row_id for row_id in missing if row_id not in records]
            for start in range(0, len(known), 500):
                for row in session.scalars(_MESSAGES_BUT_ANALYSIS, {"ids": known[start : start + 500]}):
                    set_committed_value(row, "analysis", records[row.id])
                    held.append(row)
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            held += session.scalars(select(model).where(model.id.in_(chunk))).all()
    return held


def escalate(session: Session, settings: StoriesSettings, story: Story, now: datetime) -> int:
    """Move an unacknowledged story one step up its chain (or repeat the last step)."""
    chain = steps(settings, story)
    if story.escalation_step + 1 < len(chain):
        story.escalation_step += 1
        story.page_round = 0
    else:
        story.page_round += 1
    nxt = story.escalation_step + 1
    base = story.paged_at or story.opened_at
    story.next_escalation_at = (
        max(now, base + timedelta(minutes=chain[nxt])) if nxt < len(chain) else now + repeat(settings, story)
    )
    step = f"page:{story.escalation_step}:{story.page_round}"
    event(session, story, "escalated", now, new=step)
    return page(session, settings, story, step, story.escalation_step, now)
