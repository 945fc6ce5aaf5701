"""Business calendars: nights, weekends, the 2026 Spring Festival and National Day with their 调休
working weekends (from the chinesecalendar package), an unknown year refused, an override used."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.sla.calendar import BusinessCalendar, DayTable, UnknownYearError
from monitor.sla.holidays import (
    OverrideError,
    day_table,
    load_overrides,
    operator_warning,
    package_days,
    package_years,
)

SH = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)
TABLE_2026 = day_table(package_days([2026]), [2026])
OFFICE = BusinessCalendar("office", days=TABLE_2026)  # 09:00-12:00, 13:00-18:00, Mon-Fri
NINE_TO_FIVE = BusinessCalendar("9-17", windows=((time(9), time(17)),), days=TABLE_2026)
ALWAYS = BusinessCalendar("24x7", always_open=True)


def sh(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SH)  # type: ignore[misc]


ADD_CASES = [
    ("night", OFFICE, sh(2026, 11, 24, 17, 30), H, sh(2026, 11, 25, 9, 30)),
    ("lunch break", OFFICE, sh(2026, 11, 24, 11, 30), H, sh(2026, 11, 24, 13, 30)),
    ("weekend", OFFICE, sh(2026, 11, 27, 17), 2 * H, sh(2026, 11, 30, 10)),
    ("deadline at close stays friday", OFFICE, sh(2026, 11, 27, 17), H, sh(2026, 11, 27, 18)),
    # Chatwoot #13392: Friday 16:30 + 1 working hour lands on Monday morning, not Friday evening
    ("chatwoot-13392 friday 16:30", NINE_TO_FIVE, sh(2026, 11, 27, 16, 30), H, sh(2026, 11, 30, 9, 30)),
    # Frappe Helpdesk #2449: created on a non-working day starts at the next working hour
    ("frappe-2449 saturday start", OFFICE, sh(2026, 11, 28, 10), timedelta(0), sh(2026, 11, 30, 9)),
    ("frappe-2449 saturday +2h", OFFICE, sh(2026, 11, 28, 10), 2 * H, sh(2026, 11, 30, 11)),
    ("spring festival eve to 调休 saturday", OFFICE, sh(2026, 2, 13, 17), 2 * H, sh(2026, 2, 14, 10)),
    ("spring festival holiday skipped", OFFICE, sh(2026, 2, 14, 17), 2 * H, sh(2026, 2, 24, 10)),
    ("调休 saturday 2026-02-28", OFFICE, sh(2026, 2, 27, 17), 2 * H, sh(2026, 2, 28, 10)),
    ("national day skipped", OFFICE, sh(2026, 9, 30, 17), 2 * H, sh(2026, 10, 8, 10)),
    ("调休 sunday 2026-09-20", OFFICE, sh(2026, 9, 19, 10), H, sh(2026, 9, 20, 10)),
    ("调休 saturday 2026-10-10", OFFICE, sh(2026, 10, 9, 17), 2 * H, sh(2026, 10, 10, 10)),
    ("24x7 ignores nights and holidays", ALWAYS, sh(2026, 10, 1, 23, 30), H, sh(2026, 10, 2, 0, 30)),
]


@pytest.mark.parametrize(("calendar", "start", "amount", "expected"), [c[1:] for c in ADD_CASES], ids=[c[0] for c in ADD_CASES])
def test_add_working_time(calendar: BusinessCalendar, start: datetime, amount: timedelta, expected: datetime) -> None:
    assert calendar.add_working(start, amount) == expected
    assert calendar.working_between(calendar.add_working(start, timedelta(0)), expected) == amount


BETWEEN_CASES = [
    ("weekend is empty", OFFICE, sh(2026, 11, 28, 10), sh(2026, 11, 29, 20), timedelta(0)),
    ("one night", OFFICE, sh(2026, 11, 24, 17), sh(2026, 11, 25, 10), 2 * H),
    ("across national day and 调休 saturday", OFFICE, sh(2026, 9, 30, 9), sh(2026, 10, 12, 9), 32 * H),
    ("spring festival week only 调休 saturday", OFFICE, sh(2026, 2, 13, 18), sh(2026, 2, 24, 9), 8 * H),
    ("24x7", ALWAYS, sh(2026, 2, 13, 18), sh(2026, 2, 14, 18), 24 * H),
]


@pytest.mark.parametrize(("calendar", "start", "end", "expected"), [c[1:] for c in BETWEEN_CASES], ids=[c[0] for c in BETWEEN_CASES])
def test_working_between(calendar: BusinessCalendar, start: datetime, end: datetime, expected: timedelta) -> None:
    assert calendar.working_between(start, end) == expected


def test_package_data_has_2026_holidays_and_make_up_days() -> None:
    assert 2026 in package_years()
    kinds = {(d.day, d.kind) for d in package_days([2026])}
    assert (date(2026, 2, 17), "holiday") in kinds  # 春节
    assert (date(2026, 2, 14), "workday") in kinds  # 调休
    assert (date(2026, 10, 10), "workday") in kinds


def test_a_year_the_table_does_not_know_is_refused_not_guessed() -> None:
    with pytest.raises(UnknownYearError) as caught:
        OFFICE.add_working(sh(2026, 12, 31, 17), 2 * H)
    assert caught.value.year == 2027
    assert "2027" in str(caught.value) and "override" in str(caught.value)


def test_the_override_file_makes_a_new_year_known(tmp_path: Path) -> None:
    path = tmp_path / "days.yaml"
    path.write_text(
        "years:\n  2027:\n    holidays: {2027-01-01: 元旦}\n    workdays: []\n"
        "company:\n  holidays: {2026-12-30: 公司年会}\n",
        encoding="utf-8",
    )
    years, days = load_overrides(path)
    table = day_table([*package_days([2026]), *days], {2026, *years})
    calendar = BusinessCalendar("office", days=table)
    # 12-31 17:00 + 2h: one hour on Thursday, New Year's Day off, then the weekend: Monday 2027-01-04
    assert calendar.add_working(sh(2026, 12, 31, 17), 2 * H) == sh(2027, 1, 4, 10)
    assert not calendar.is_working_day(date(2026, 12, 30))  # the company day


@pytest.mark.parametrize(
    "text",
    ["years:\n  '2027': {}\n", "years:\n  2027:\n    holidays: [2028-01-01]\n", "weeks: {}\n", "years:\n  2027:\n    holidays: [soon]\n"],
    ids=["year-not-int", "date-outside-year", "unknown-key", "not-a-date"],
)
def test_a_bad_override_file_is_refused_with_the_reason(tmp_path: Path, text: str) -> None:
    path = tmp_path / "days.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(OverrideError, match=str(path)):
        load_overrides(path)


WARNING_CASES = [
    ("november, next year unknown", {2026}, date(2026, 11, 29), 11, True),
    ("october is quiet", {2026}, date(2026, 10, 31), 11, False),
    ("next year known", {2026, 2027}, date(2026, 11, 29), 11, False),
    ("december configured", {2026}, date(2026, 11, 29), 12, False),
]


@pytest.mark.parametrize(("known", "today", "from_month", "loud"), [c[1:] for c in WARNING_CASES], ids=[c[0] for c in WARNING_CASES])
def test_operator_warning_from_november(known: set[int], today: date, from_month: int, loud: bool) -> None:
    warning = operator_warning(known, today, from_month=from_month)
    assert (warning is not None) == loud
    if warning:
        assert warning.startswith("【日历警告】2027") and "CALENDAR WARNING" in warning


def test_an_empty_table_knows_no_year() -> None:
    with pytest.raises(UnknownYearError):
        DayTable().working(date(2026, 1, 5), frozenset(range(5)))
