"""Business calendars: working hours in a timezone, public holidays and make-up working days (调休).

Pure: a :class:`DayTable` says which dates are holidays or make-up working days and which years
it knows; a :class:`BusinessCalendar` adds working hours and answers the two questions every SLA
clock asks — how much working time lies between two instants, and which instant lies a given
amount of working time after another. A date in a year the table does not know raises
:class:`UnknownYearError`: a clock is refused rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS = 3660  # ten years of search for working time before giving up
ZERO = timedelta(0)


class UnknownYearError(LookupError):
    """A clock needs a year the holiday table does not know (add it to the override file)."""

    def __init__(self, year: int) -> None:
        super().__init__(
            f"节假日日历不含 {year} 年，拒绝推算 / the holiday calendar does not know {year}: "
            f"add it to the calendar override file (docs/sla.zh.md)"
        )
        self.year = year


@dataclass(frozen=True, slots=True)
class DayTable:
    """Dates that differ from the weekly pattern, and the years whose dates are known."""

    known_years: frozenset[int] = frozenset()
    holidays: frozenset[date] = frozenset()  # days off (public holidays, company days)
    workdays: frozenset[date] = frozenset()  # make-up working days on weekends (调休)
    names: dict[date, str] = field(default_factory=dict, compare=False)

    def working(self, day: date, weekdays: frozenset[int]) -> bool:
        if day.year not in self.known_years:
            raise UnknownYearError(day.year)
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() in weekdays


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Working hours in one timezone; ``always_open`` is 24×7 (no holidays, no nights)."""

    name: str
    timezone: str = "Asia/Shanghai"
    windows: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(13), time(18)))
    weekdays: frozenset[int] = frozenset(range(5))  # Monday = 0
    days: DayTable | None = None  # None: weekly pattern only, no public holidays
    always_open: bool = False
    _cache: dict[date, tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    @property
    def day_length(self) -> timedelta:
        """Working time in one working day (24 h when always open): the unit of ``wd`` targets."""
        if self.always_open:
            return timedelta(days=1)
        return sum((_offset(end, end=True) - _offset(start) for start, end in self.windows), ZERO)

    def is_working_day(self, day: date) -> bool:
        if self.days is None:
            return day.weekday() in self.weekdays
        return self.days.working(day, self.weekdays)

    def _day_spans(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The working spans (UTC) of one local day; cached (clock replays ask for the same days)."""
        cached = self._cache.get(day)
        if cached is None:
            cached = ()
            if self.is_working_day(day):
                midnight = datetime.combine(day, time(0), ZoneInfo(self.timezone))
                cached = tuple(
                    ((midnight + _offset(begin)).astimezone(UTC), (midnight + _offset(end, end=True)).astimezone(UTC))
                    for begin, end in self.windows
                )
            self._cache[day] = cached
        return cached

    def _spans(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working spans (UTC) that end after ``start``, in order; the first may begin before it."""
        day = start.astimezone(ZoneInfo(self.timezone)).date()
        for _ in range(MAX_DAYS):
            for lo, hi in self._day_spans(day):
                if hi > start:
                    yield lo, hi
            day += timedelta(days=1)
        raise ValueError(f"calendar {self.name}: no working time within {MAX_DAYS} days")

    def working_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time in ``[start, end)``."""
        if end <= start:
            return ZERO
        if self.always_open:
            return end - start
        total = ZERO
        for lo, hi in self._spans(start):
            if lo >= end:
                break
            total += min(hi, end) - max(lo, start)
        return total

    def add_working(self, start: datetime, amount: timedelta) -> datetime:
        """The instant ``amount`` of working time after ``start`` (a working instant, never a night).

        With ``amount`` zero this is the first working instant at or after ``start``: a ticket
        that arrives on a holiday starts its clock at the next working hour.
        """
        if self.always_open:
            return start + amount
        remaining = amount
        for lo, hi in self._spans(start):
            begin = max(lo, start)
            if remaining <= hi - begin:  # a deadline at the end of a span stays there (Friday 18:00)
                return begin + remaining
            remaining -= hi - begin
        raise AssertionError("unreachable: _spans raises when it runs out")  # pragma: no cover


def _offset(value: time, *, end: bool = False) -> timedelta:
    """Time of day as an offset from midnight; an end of 00:00 is the following midnight."""
    if end and value == time(0):
        return timedelta(days=1)
    return timedelta(hours=value.hour, minutes=value.minute)
