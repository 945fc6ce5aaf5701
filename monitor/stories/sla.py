"""SLA notices through the one route: the ``housekeeping:sla`` job's work, in one transaction.

``collect_due_notices`` (``monitor.sla.notices``) records each warning and breach once in
``sla_notices``; here, in the same transaction, each becomes a typed :class:`SlaAlert` in the
outbox, so a notice is recorded if and only if it is queued:

* a **warning** (75 % of the target by default) goes to the ticket's route only (the route tree's
  ``sla`` kind, matched on the ticket's priority, type, category, department, channel, source);
* a **breach** opens a story of kind ``sla`` (code ``S<id>``) paged at once like an incident page:
  the route's receivers and step 0 of its on-call team, then up the escalation chain by the story
  timers (``housekeeping:stories``) until someone acknowledges it (``yuqing ack S<id>``). When the
  clock stops (the agent answered, the ticket was closed) the story resolves by itself;
* calendar notices (next year's holidays unknown, a clock refused) go to the operators, and so
  does one summary of breaches due more than a day ago (a first start on an old database, a long
  outage): those are recorded but not paged one by one.

The same readings are written to ``sla_results`` for the monthly report, together with the
tickets closed in the last hour (their clocks stopped since the previous run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.notices import OperatorNotice, SlaAlert
from monitor.sla.notices import CalendarNotice, SlaNotice, collect_due_notices
from monitor.sla.policy import SlaEngine
from monitor.sla.results import TicketReadings, compute_results, record_results
from monitor.sla.settings import CLOCK_LABELS, CalendarsConfig, SlaConfig
from monitor.sla.store import build_engine
from monitor.storage.db import Database
from monitor.storage.models import Source, Story, Ticket
from monitor.stories.lifecycle import change_state, serialise
from monitor.stories.notify import first_page
from monitor.stories.observe import ACTIVE, _open, event
from monitor.stories.queue import enqueue_operator_alert, wanted, write_rows
from monitor.stories.routes import Subject
from monitor.stories.settings import StoriesSettings

log = structlog.get_logger("yuqing.sla")
STORY_KIND = "sla"
CLOSED_WINDOW = timedelta(hours=1)
STALE_AFTER = timedelta(hours=24)
"""A breach due longer ago than this (a first start on an old database, a long outage) is not
paged ticket by ticket: one operator notice counts them (``yuqing sla due`` lists them)."""
STALE_LIST = 20


@dataclass
class SlaRun:
    warnings: int = 0
    breaches: int = 0
    operator: int = 0
    rows: int = 0
    resolved: int = 0
    results: int = 0


def run_sla(
    db: Database, settings: StoriesSettings, sla: SlaConfig, calendars: CalendarsConfig, *, now: datetime
) -> SlaRun:
    """The ``housekeeping:sla`` job: one transaction under the stories lock."""
    with db.transaction() as session:
        serialise(session)
        run = queue_sla_notices(session, settings, sla, calendars, now)
    if run.rows or run.resolved:
        log.info(
            "sla_notices",
            warnings=run.warnings,
            breaches=run.breaches,
            operator=run.operator,
            rows=run.rows,
            resolved=run.resolved,
            results=run.results,
        )
    return run


def queue_sla_notices(
    session: Session, settings: StoriesSettings, sla: SlaConfig, calendars: CalendarsConfig, now: datetime
) -> SlaRun:
    """Due notices into the outbox, SLA stories settled, results written (caller's transaction)."""
    readings: list[TicketReadings] = []
    notices = collect_due_notices(session, now, sla, calendars, readings=readings)
    run = SlaRun()
    ids = sorted({n.ticket_id for n in notices if isinstance(n, SlaNotice)})
    tickets = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(ids)))} if ids else {}
    stale = [n for n in notices if isinstance(n, SlaNotice) and n.kind == "sla-breach" and _stale(n, now)]
    if stale:
        run.operator += 1
        run.rows += _stale_notice(session, settings, stale)
    skip = {n.key for n in stale}
    for notice in notices:
        if notice.key in skip:
            continue
        if isinstance(notice, CalendarNotice):
            run.operator += 1
            run.rows += _operator(session, settings, notice)
            continue
        ticket = tickets[notice.ticket_id]
        if notice.kind == "sla-warning":
            run.warnings += 1
            run.rows += _warn(session, settings, notice, ticket)
        else:
            run.breaches += 1
            run.rows += _breach(session, settings, notice, ticket, now)
    run.resolved = _settle(session, settings, readings, now)
    run.rows += run.resolved
    engine = build_engine(session, sla, calendars)
    run.results = record_results(session, [*readings, *_recently_closed(session, engine, now)], now)
    return run


def subject_of_ticket(session: Session, ticket: Ticket) -> Subject:
    """What the route tree matches an SLA notice on: the ticket's current attributes."""
    source = session.get(Source, ticket.source_id)

    def one(value: str | None) -> frozenset[str]:
        return frozenset([value]) if value else frozenset()

    return Subject(
        kind=STORY_KIND,
        priority=ticket.priority,
        types=one(ticket.feedback_type),
        categories=one(ticket.category),
        teams=one(ticket.department),
        tags=frozenset(ticket.tags or ()),
        channels=one(ticket.channel),
        sources=one(source.name if source is not None else None),
    )


def _minutes(value: timedelta) -> float:
    return round(value.total_seconds() / 60, 1)


def notice_fields(notice: SlaNotice, ticket: Ticket) -> dict[str, Any]:
    """The :class:`SlaAlert` fields that describe the clock (kept on a breach story as JSON)."""
    code = ticket.code or f"#{ticket.id}"
    percent = 100 * notice.elapsed / notice.target if notice.target else 100.0
    return {
        "priority": ticket.priority,
        "title": ticket.title[:200],
        "ticket": code,
        "status": ticket.status,
        "channel": ticket.channel,
        "clock": notice.clock,
        "clock_label": CLOCK_LABELS.get(notice.clock, notice.clock),
        "profile": notice.profile,
        "target_minutes": _minutes(notice.target),
        "elapsed_minutes": _minutes(notice.elapsed),
        "percent": round(percent, 1),
        "due_at": notice.due_at.isoformat() if notice.due_at else None,
        "department": ticket.department,
        "assignee": ticket.assignee,
        "show_command": f"yuqing sla show {code}",
    }


def _warn(session: Session, settings: StoriesSettings, notice: SlaNotice, ticket: Ticket) -> int:
    routing = settings.routes.match(subject_of_ticket(session, ticket))
    alert = SlaAlert(level="warning", step="sla-warning", **notice_fields(notice, ticket))
    names = wanted(settings.targets, routing.receivers, ticket.priority)
    if not names:
        log.warning("sla_nobody_to_tell", ticket=ticket.code, clock=notice.clock)
    return write_rows(session, notice.key, names, alert, ticket_id=ticket.id)


def _breach(session: Session, settings: StoriesSettings, notice: SlaNotice, ticket: Ticket, now: datetime) -> int:
    """Open an ``sla`` story for the breach and page it now (its escalation follows the chain)."""
    subject = subject_of_ticket(session, ticket)
    story = _open(
        session,
        settings,
        subject,
        now,
        kind=STORY_KIND,
        severity=ticket.priority,
        title=f"SLA {CLOCK_LABELS.get(notice.clock, notice.clock)} {ticket.code or ''}".strip()[:255],
        message_count=0,
    )
    story.notify_at = None  # a breach does not wait for a group: it is paged at once
    story.subject = {
        **story.subject,
        "sla": notice_fields(notice, ticket),
        "sla_ref": {"ticket_id": ticket.id, "clock": notice.clock, "key": notice.key},
    }
    session.flush()
    event(session, story, "opened", now, new=story.severity, note=notice.key)
    return first_page(session, settings, story, now)


def _cycle(key: str) -> str:
    """The cycle part of a notice key ``sla:<ticket>:<clock>:<cycle>:<level>``."""
    parts = key.split(":")
    return parts[3] if len(parts) >= 5 else ""


def _settle(session: Session, settings: StoriesSettings, readings: Sequence[TicketReadings], now: datetime) -> int:
    """Resolve the breach stories whose clock stopped (answered, closed) or started a new cycle."""
    stories = list(
        session.scalars(
            select(Story).where(Story.kind == STORY_KIND, Story.state.in_(ACTIVE)).order_by(Story.id).with_for_update()
        )
    )
    if not stories:
        return 0
    by_ticket = {r.ticket_id: {c.clock: c for c in r.readings} for r in readings}
    ids = sorted({int((s.subject or {}).get("sla_ref", {}).get("ticket_id") or 0) for s in stories})
    status = dict(session.execute(select(Ticket.id, Ticket.status).where(Ticket.id.in_(ids))).tuples().all())
    notices = 0
    for story in stories:
        ref = (story.subject or {}).get("sla_ref") or {}
        ticket_id = int(ref.get("ticket_id") or 0)
        reading = by_ticket.get(ticket_id, {}).get(str(ref.get("clock")))
        over = status.get(ticket_id) in (None, "closed")
        if reading is not None:
            over = reading.phase == "stopped" or str(reading.cycle) != _cycle(str(ref.get("key", "")))
        if over:
            notices += change_state(
                session, settings, story, "resolved", actor="sla", now=now, note="时钟已停止 clock stopped"
            ).notices
    return notices


def _recently_closed(session: Session, engine: SlaEngine, now: datetime) -> list[TicketReadings]:
    query = select(Ticket).where(Ticket.status == "closed", Ticket.updated_at >= now - CLOSED_WINDOW)
    items, _refused = compute_results(session, engine, session.scalars(query).all(), now)
    return items


def _stale(notice: SlaNotice, now: datetime) -> bool:
    return notice.due_at is not None and now - notice.due_at > STALE_AFTER


def _stale_notice(session: Session, settings: StoriesSettings, stale: Sequence[SlaNotice]) -> int:
    codes = sorted({n.ticket_code for n in stale})
    title = f"{len(codes)} 个工单早已超时（未逐个呼叫） {len(codes)} tickets long overdue (not paged one by one)"
    errors = [f"{n.ticket_code} {CLOCK_LABELS.get(n.clock, n.clock)} due {n.due_at:%Y-%m-%d %H:%M}Z" for n in stale[:STALE_LIST] if n.due_at]
    if len(stale) > STALE_LIST:
        errors.append(f"…… 另有 {len(stale) - STALE_LIST} 个 and {len(stale) - STALE_LIST} more")
    alert = OperatorNotice(
        priority="L2",
        title=title,
        errors=errors,
        problem="sla-stale",
        step="operator",
        hint="查看 yuqing sla due --within 1m 并处理 Review them with: yuqing sla due --within 1m",
    )
    key = f"sla-stale:{stale[0].key}:{len(stale)}"[:255]
    return enqueue_operator_alert(session, key, title, settings.targets, routes=settings.routes, notice=alert)


def _operator(session: Session, settings: StoriesSettings, notice: CalendarNotice) -> int:
    title = (
        f"节假日日历缺少 {notice.year} 年 Holiday calendar does not know {notice.year}"
        if notice.kind == "calendar-warning"
        else f"SLA 时钟因 {notice.year} 年日历未知被拒绝 SLA clocks refused: {notice.year} unknown"
    )
    alert = OperatorNotice(
        priority="L2",
        title=title,
        excerpt=notice.text,
        problem=notice.key,
        step="operator",
        hint="在 calendars.override_file 中补充该年节假日与调休 Add the year to calendars.override_file",
    )
    return enqueue_operator_alert(session, notice.key, title, settings.targets, routes=settings.routes, notice=alert)
