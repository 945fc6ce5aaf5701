"""Which profile applies to a ticket, and the clock specs it gives (pure)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.sla.calendar import BusinessCalendar, DayTable
from monitor.sla.clocks import ClockEvent, ClockSpec, Reading, read_clocks
from monitor.sla.settings import (
    SURVEY_PROFILE,
    WEEKDAYS,
    CalendarsConfig,
    ProfileConfig,
    SlaConfig,
    parse_windows,
)


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """The ticket attributes profiles are selected by (current values, not history)."""

    channel: str
    type: str | None
    priority: str | None
    department: str | None
    complex: bool


def select_profile(sla: SlaConfig, facts: TicketFacts) -> tuple[str, ProfileConfig]:
    """The first selector whose every given list contains the ticket's value; else the default."""
    for selector in sla.select:
        match = selector.match
        checks = (
            (match.channel, facts.channel),
            (match.type, facts.type),
            (match.priority, facts.priority),
            (match.department, facts.department),
        )
        if all(not wanted or value in wanted for wanted, value in checks):
            return selector.profile, sla.profiles[selector.profile]
    if facts.channel == SURVEY_PROFILE and SURVEY_PROFILE in sla.profiles:
        return SURVEY_PROFILE, sla.profiles[SURVEY_PROFILE]
    return sla.default_profile, sla.profiles[sla.default_profile]


def build_calendars(config: CalendarsConfig, days: DayTable) -> dict[str, BusinessCalendar]:
    return {
        name: BusinessCalendar(
            name=name,
            timezone=cal.timezone,
            windows=parse_windows(cal.hours),
            weekdays=frozenset(WEEKDAYS.index(d) for d in cal.weekdays),
            days=days if cal.holidays == "china" else None,
            always_open=cal.always_open,
        )
        for name, cal in config.business.items()
    }


@dataclass(frozen=True, slots=True)
class SlaEngine:
    """Configuration and calendars bound together: reads every clock of a ticket."""

    sla: SlaConfig
    calendars: dict[str, BusinessCalendar]

    def specs(self, facts: TicketFacts) -> tuple[str, ProfileConfig, Callable[[str], ClockSpec | None]]:
        name, profile = select_profile(self.sla, facts)
        targets = profile.for_priority(facts.priority)

        def spec(clock: str) -> ClockSpec | None:
            if targets is None:
                return None
            span = targets.span(clock, complex_case=facts.complex)
            if span is None:
                return None
            calendar = self.calendars[targets.calendar]
            return ClockSpec(clock, span.on(calendar.day_length), calendar, profile.warn_at)

        return name, profile, spec

    def read(self, facts: TicketFacts, events: Sequence[ClockEvent], now: datetime) -> tuple[str, list[Reading]]:
        name, profile, spec = self.specs(facts)
        return name, read_clocks(events, spec, profile.pause_states, now)
