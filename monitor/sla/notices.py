"""Due SLA notices — the one integration point for notifications.

``collect_due_notices(session, now, sla, calendars)`` returns the typed notices that became due
(warning at the profile's threshold, 75 % by default; breach at 100 %) and records each one in
``sla_notices`` under a unique key, in the caller's transaction: a re-run, or a second instance
sharing the database, gets nothing it already emitted. Call it in the same transaction that
writes the notification (outbox/route), so a notice is recorded if and only if it is sent.

Only *running* clocks give notices: a clock stopped by a response (Zammad #3140) or paused while
the customer is waiting never does, and a business-hours clock only advances in working hours, so
nothing becomes due at night or at the weekend (Zammad #4432). When both thresholds passed since
the last run, only the breach is returned (the warning is recorded as superseded).

Operator notices: the calendar warning (from November when next year's holidays are unknown) and
a refused clock (a ticket needs a year the calendar does not know) — once per day each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.sla.calendar import UnknownYearError
from monitor.sla.holidays import operator_warning
from monitor.sla.results import TicketReadings
from monitor.sla.settings import CalendarsConfig, SlaConfig
from monitor.sla.store import build_engine, event_logs, facts, load_day_table, sync_calendar
from monitor.storage.db import Database
from monitor.storage.models import SlaNotice as SlaNoticeRow
from monitor.storage.models import Ticket

_CHUNK = 500
OPEN = ("received", "processing", "waiting", "resolved", "reopened")


@dataclass(frozen=True, slots=True)
class SlaNotice:
    """A clock crossed its warning threshold or its target."""

    kind: Literal["sla-warning", "sla-breach"]
    key: str
    ticket_id: int
    ticket_code: str
    priority: str | None
    department: str | None
    assignee: str | None
    profile: str
    clock: str
    target: timedelta
    elapsed: timedelta
    due_at: datetime | None


@dataclass(frozen=True, slots=True)
class CalendarNotice:
    """For the operator: next year's holidays unknown, or a clock refused for an unknown year."""

    kind: Literal["calendar-warning", "calendar-refused"]
    key: str
    year: int
    text: str


Notice = SlaNotice | CalendarNotice


def collect_due_notices(
    session: Session,
    now: datetime,
    sla: SlaConfig,
    calendars: CalendarsConfig,
    *,
    readings: list[TicketReadings] | None = None,
) -> list[Notice]:
    """The notices that became due (see the module docstring); ``readings``, when given, receives
    every open ticket's clocks as computed here (for ``sla_results``, without reading them twice)."""
    sync_calendar(session)
    engine = build_engine(session, sla, calendars)
    found: list[Notice] = []
    day = now.date().isoformat()
    warning = operator_warning(load_day_table(session, calendars).known_years, now.date(), from_month=calendars.warn_from_month)
    if warning:
        found.append(CalendarNotice("calendar-warning", f"calendar-warning:{now.year + 1}:{day}", now.year + 1, warning))
    superseded: list[dict[str, Any]] = []
    tickets = list(session.scalars(select(Ticket).where(Ticket.status.in_(OPEN)).order_by(Ticket.id)))
    logs = event_logs(session, [t.id for t in tickets])
    for ticket in tickets:
        try:
            profile, clocks = engine.read(facts(ticket), logs[ticket.id], now)
        except UnknownYearError as exc:
            found.append(CalendarNotice("calendar-refused", f"calendar-refused:{exc.year}:{day}", exc.year, str(exc)))
            continue
        if readings is not None:
            readings.append(TicketReadings(ticket.id, profile, tuple(clocks)))
        for r in clocks:
            if r.phase != "running" or r.level == "ok":
                continue
            base = f"sla:{ticket.id}:{r.clock}:{r.cycle}"
            kind: Literal["sla-warning", "sla-breach"] = "sla-breach" if r.level == "breached" else "sla-warning"
            found.append(
                SlaNotice(
                    kind, f"{base}:{r.level}", ticket.id, ticket.code or "", ticket.priority, ticket.department,
                    ticket.assignee, profile, r.clock, r.target, r.elapsed, r.due_at,
                )
            )
            if kind == "sla-breach":
                superseded.append(_row(f"{base}:warning", "sla-warning-superseded", ticket.id, r.clock, r.due_at, now))
    rows = {n.key: _notice_row(n, now) for n in found}
    recorded = _record_new(session, [*rows.values(), *superseded])
    return [n for n in dict((n.key, n) for n in found).values() if n.key in recorded]


def _row(key: str, kind: str, ticket_id: int | None, clock: str | None, due: datetime | None, now: datetime) -> dict[str, Any]:
    return {"key": key, "kind": kind, "ticket_id": ticket_id, "clock": clock, "due_at": due, "emitted_at": now}


def _notice_row(notice: Notice, now: datetime) -> dict[str, Any]:
    if isinstance(notice, SlaNotice):
        return _row(notice.key, notice.kind, notice.ticket_id, notice.clock, notice.due_at, now)
    return _row(notice.key, notice.kind, None, None, None, now)


def _record_new(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the rows whose key is not recorded yet; the keys this call recorded.

    One lookup and one bulk insert; if a concurrent instance inserted one of the keys meanwhile,
    the bulk insert fails on the unique key and each row is retried alone (that key is skipped).
    """
    rows = list({r["key"]: r for r in rows}.values())
    keys = [r["key"] for r in rows]
    seen: set[str] = set()
    for start in range(0, len(keys), _CHUNK):
        seen.update(session.scalars(select(SlaNoticeRow.key).where(SlaNoticeRow.key.in_(keys[start : start + _CHUNK]))))
    new = [r for r in rows if r["key"] not in seen]
    if not new:
        return set()
    try:
        with session.begin_nested():
            session.execute(insert(SlaNoticeRow), new)
        return {r["key"] for r in new}
    except IntegrityError:
        pass
    recorded: set[str] = set()
    for row in new:
        try:
            with session.begin_nested():
                session.execute(insert(SlaNoticeRow), [row])
            recorded.add(row["key"])
        except IntegrityError:  # another instance recorded it first
            continue
    return recorded


def due_notices(db: Database, now: datetime, sla: SlaConfig, calendars: CalendarsConfig) -> list[Notice]:
    """``collect_due_notices`` in its own transaction (for callers without one)."""
    with db.transaction() as session:
        return collect_due_notices(session, now, sla, calendars)
