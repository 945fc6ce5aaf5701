"""China public holidays and make-up working days (调休): from chinesecalendar, plus overrides.

``chinesecalendar`` (PyPI) is the maintained source: it is updated each year after the State
Council publishes the next year's arrangement, and it raises ``NotImplementedError`` for a year it
does not know yet. Its data seed the ``calendar_days`` table; an operator's YAML override file adds
years the package does not know yet and company days (closures, extra working days).

Override file::

    years:                      # a year listed here counts as known
      2027:
        holidays: {2027-01-01: 元旦, 2027-02-08: 春节}
        workdays: [2027-02-06]  # 调休上班
    company:                    # any known year
      holidays: {2026-12-31: 公司年会}
      workdays: []
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from monitor.sla.calendar import DayTable

HOLIDAY, WORKDAY = "holiday", "workday"


@dataclass(frozen=True, slots=True)
class CalendarDay:
    day: date
    kind: str  # holiday | workday
    name: str
    source: str  # chinesecalendar | override | company


class OverrideError(ValueError):
    pass


def package_years() -> range:
    """The years the installed chinesecalendar knows (probed: it raises for unknown years)."""
    import chinese_calendar

    known = [y for y in range(2004, date.today().year + 3) if _knows(chinese_calendar, y)]
    return range(known[0], known[-1] + 1) if known else range(0)


def _knows(module: Any, year: int) -> bool:
    try:
        module.is_holiday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def package_days(years: Iterable[int]) -> list[CalendarDay]:
    """Holidays and make-up working days of ``years`` from chinesecalendar."""
    from chinese_calendar import constants

    wanted = set(years)
    days = [
        CalendarDay(day, HOLIDAY, _name(name), "chinesecalendar")
        for day, name in constants.holidays.items()
        if day.year in wanted
    ]
    days += [
        CalendarDay(day, WORKDAY, _name(name), "chinesecalendar")
        for day, name in constants.workdays.items()
        if day.year in wanted
    ]
    return sorted(days, key=lambda d: d.day)


def _name(value: Any) -> str:
    return str(getattr(value, "chinese", None) or getattr(value, "value", None) or value or "")


def load_overrides(path: Path) -> tuple[frozenset[int], list[CalendarDay]]:
    """Years declared in the override file and its days (raises OverrideError with the reason)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise OverrideError(f"{path}: {exc}") from None
    if not isinstance(data, dict) or set(data) - {"years", "company"}:
        raise OverrideError(f"{path}: expected a mapping with 'years' and/or 'company'")
    years: set[int] = set()
    days: list[CalendarDay] = []
    for year, section in (data.get("years") or {}).items():
        if not isinstance(year, int):
            raise OverrideError(f"{path}: years: {year!r} is not a year")
        years.add(year)
        days += _section(path, section, "override", year)
    days += _section(path, data.get("company") or {}, "company", None)
    return frozenset(years), days


def _section(path: Path, section: Any, source: str, year: int | None) -> list[CalendarDay]:
    if not isinstance(section, dict) or set(section) - {HOLIDAY + "s", WORKDAY + "s"}:
        raise OverrideError(f"{path}: a section has 'holidays' and 'workdays' only")
    days: list[CalendarDay] = []
    for kind in (HOLIDAY, WORKDAY):
        entries = section.get(kind + "s") or {}
        named = entries.items() if isinstance(entries, Mapping) else ((e, "") for e in entries)
        for day, name in named:
            if not isinstance(day, date):
                raise OverrideError(f"{path}: {day!r} is not a date (YYYY-MM-DD)")
            if year is not None and day.year != year:
                raise OverrideError(f"{path}: {day} is listed under year {year}")
            days.append(CalendarDay(day, kind, str(name or ""), source))
    return days


def day_table(rows: Iterable[CalendarDay], years: Iterable[int]) -> DayTable:
    """Merge rows in order (later rows win: package, then override, then company)."""
    kinds: dict[date, CalendarDay] = {}
    for row in rows:
        kinds[row.day] = row
    return DayTable(
        known_years=frozenset(years),
        holidays=frozenset(d for d, r in kinds.items() if r.kind == HOLIDAY),
        workdays=frozenset(d for d, r in kinds.items() if r.kind == WORKDAY),
        names={d: r.name for d, r in kinds.items()},
    )


def operator_warning(known_years: Iterable[int], today: date, *, from_month: int = 11) -> str | None:
    """The loud warning from ``from_month`` on when next year's holidays are not known yet."""
    nxt = today.year + 1
    if today.month < from_month or nxt in set(known_years):
        return None
    return (
        f"【日历警告】{nxt} 年法定节假日与调休安排尚未载入：请升级 chinesecalendar 或在日历覆盖文件中"
        f"写入 {nxt} 年安排，否则跨入 {nxt} 年的工作时间 SLA 时钟将被拒绝计算 / CALENDAR WARNING: "
        f"{nxt} public holidays and make-up working days are unknown — upgrade chinesecalendar or add "
        f"{nxt} to the override file; business-hours SLA clocks reaching into {nxt} will be refused"
    )
