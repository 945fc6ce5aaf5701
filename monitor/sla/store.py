"""The SLA engine's storage side: the calendar table, ticket event logs, readings per ticket."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.sla.calendar import DayTable
from monitor.sla.clocks import ClockEvent, Reading
from monitor.sla.holidays import CalendarDay, day_table, load_overrides, package_days, package_years
from monitor.sla.policy import SlaEngine, TicketFacts, build_calendars
from monitor.sla.settings import CalendarsConfig, SlaConfig
from monitor.storage.models import CalendarDay as CalendarDayRow
from monitor.storage.models import CalendarYear, Ticket, TicketEvent, utcnow

_CHUNK = 500
_SOURCE_RANK = {"chinesecalendar": 0, "override": 1, "company": 2}


def sync_calendar(session: Session, *, years: Iterable[int] | None = None) -> list[int]:
    """Copy the years chinesecalendar knows into the calendar table (those not there yet)."""
    have = set(session.scalars(select(CalendarYear.year)))
    wanted = [y for y in (years if years is not None else package_years()) if y not in have]
    if not wanted:
        return []
    existing = set(session.scalars(select(CalendarDayRow.day)))
    now = utcnow()
    for day in package_days(wanted):
        if day.day not in existing:
            session.add(CalendarDayRow(day=day.day, kind=day.kind, name=day.name[:64], source=day.source))
    for year in wanted:
        session.add(CalendarYear(year=year, source="chinesecalendar", loaded_at=now))
    session.flush()
    return wanted


def load_day_table(session: Session, calendars: CalendarsConfig) -> DayTable:
    """The calendar table plus the override file (override years count as known; company days win)."""
    rows = [CalendarDay(r.day, r.kind, r.name, r.source) for r in session.scalars(select(CalendarDayRow))]
    years = set(session.scalars(select(CalendarYear.year)))
    if calendars.override_file is not None:
        extra_years, extra = load_overrides(calendars.override_file)
        years |= extra_years
        rows += extra
    rows.sort(key=lambda r: _SOURCE_RANK.get(r.source, 0))
    return day_table(rows, years)


def build_engine(session: Session, sla: SlaConfig, calendars: CalendarsConfig) -> SlaEngine:
    return SlaEngine(sla, build_calendars(calendars, load_day_table(session, calendars)))


def facts(ticket: Ticket) -> TicketFacts:
    return TicketFacts(
        channel=ticket.channel,
        type=ticket.feedback_type,
        priority=ticket.priority,
        department=ticket.department,
        complex=bool(ticket.complex),
    )


def event_logs(session: Session, ticket_ids: Sequence[int]) -> dict[int, list[ClockEvent]]:
    """Each ticket's events as the engine sees them, in order."""
    logs: dict[int, list[ClockEvent]] = {i: [] for i in ticket_ids}
    for start in range(0, len(ticket_ids), _CHUNK):
        chunk = ticket_ids[start : start + _CHUNK]
        e = TicketEvent
        query = (
            select(e.ticket_id, e.id, e.kind, e.at, e.actor, e.old_value, e.new_value)
            .where(e.ticket_id.in_(chunk))
            .order_by(e.at, e.id)
        )
        for ticket_id, *fields in session.execute(query):  # columns, not entities: ~2x faster (bench/sla_due.py)
            logs[ticket_id].append(ClockEvent(*fields))
    return logs


@dataclass(frozen=True, slots=True)
class TicketClocks:
    ticket: Ticket
    profile: str
    readings: list[Reading]


def ticket_clocks(session: Session, engine: SlaEngine, ticket: Ticket, now: datetime) -> TicketClocks:
    """Every clock of one ticket (raises UnknownYearError when a clock needs an unknown year)."""
    events = event_logs(session, [ticket.id])[ticket.id]
    profile, readings = engine.read(facts(ticket), events, now)
    return TicketClocks(ticket, profile, readings)
