"""SLA clocks replayed from the event log with a frozen clock (the default policy profile).

Includes the cases other helpdesks got wrong: Zammad #3140, #5177, #4432, Frappe Helpdesk #2449,
and paused time kept across a change of SLA policy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.sla.calendar import UnknownYearError
from monitor.sla.clocks import ClockEvent, Reading
from monitor.sla.holidays import day_table, load_overrides, package_days
from monitor.sla.policy import SlaEngine, TicketFacts, build_calendars
from monitor.sla.settings import CalendarsConfig, SlaConfig

SH = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)
M = timedelta(minutes=1)
TABLE = day_table(package_days([2026]), [2026])
ENGINE = SlaEngine(SlaConfig(), build_calendars(CalendarsConfig(), TABLE))


def sh(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SH)  # type: ignore[misc]


@dataclass
class Log:
    """Builds a ticket's event log in order."""

    events: list[ClockEvent]

    @classmethod
    def created(cls, at: datetime) -> Log:
        return cls([ClockEvent(1, "created", at, "system", None, "received")])

    def add(self, kind: str, at: datetime, *, new: str | None = None, actor: str = "wangfang") -> Log:
        actor = "system" if kind == "message" else actor
        self.events.append(ClockEvent(len(self.events) + 1, kind, at, actor, None, new))
        return self

    def status(self, at: datetime, new: str) -> Log:
        return self.add("status", at, new=new)


def facts(priority: str | None, *, complex_case: bool = False) -> TicketFacts:
    return TicketFacts(channel="email", type="complaint", priority=priority, department=None, complex=complex_case)


def clocks(log: Log, now: datetime, priority: str | None = "L2", engine: SlaEngine = ENGINE, **kw: bool) -> dict[str, Reading]:
    _, readings = engine.read(facts(priority, **kw), log.events, now)
    return {r.clock: r for r in readings}


LEVEL_CASES = [
    # (id, priority, created, now, clock, elapsed, level, due)
    ("L1 24x7 at night ok", "L1", sh(2026, 11, 28, 2), sh(2026, 11, 28, 2, 44), "first_response", 44 * M, "ok", sh(2026, 11, 28, 3)),
    ("L1 24x7 warning at 75%", "L1", sh(2026, 11, 28, 2), sh(2026, 11, 28, 2, 45), "first_response", 45 * M, "warning", sh(2026, 11, 28, 3)),
    ("L1 24x7 breach at 100%", "L1", sh(2026, 11, 28, 2), sh(2026, 11, 28, 3), "first_response", H, "breached", sh(2026, 11, 28, 3)),
    ("L1 solution plan 24h", "L1", sh(2026, 11, 28, 2), sh(2026, 11, 29, 2), "resolution", 24 * H, "breached", sh(2026, 11, 29, 2)),
    ("L2 friday evening to monday", "L2", sh(2026, 11, 27, 17, 30), sh(2026, 11, 30, 10), "first_response", 90 * M, "warning", sh(2026, 11, 30, 10, 30)),
    # Zammad #4432: no escalation at midnight or over the weekend for business-hours tickets
    ("zammad-4432 saturday midnight", "L2", sh(2026, 11, 27, 17, 30), sh(2026, 11, 28, 0), "first_response", 30 * M, "ok", sh(2026, 11, 30, 10, 30)),
    ("zammad-4432 sunday night", "L2", sh(2026, 11, 27, 17, 30), sh(2026, 11, 29, 23, 59), "first_response", 30 * M, "ok", sh(2026, 11, 30, 10, 30)),
    # Frappe Helpdesk #2449: created on Sunday, the clock starts Monday 09:00
    ("frappe-2449 sunday ticket", "L2", sh(2026, 11, 29, 10), sh(2026, 11, 30, 9), "first_response", timedelta(0), "ok", sh(2026, 11, 30, 11)),
    ("L2 resolution 2 working days over national day", "L2", sh(2026, 9, 30, 17), sh(2026, 10, 8, 9), "resolution", H, "ok", sh(2026, 10, 9, 17)),
    ("L3 3 working days over spring festival", "L3", sh(2026, 2, 13, 10), sh(2026, 2, 24, 18), "first_response", 23 * H, "warning", sh(2026, 2, 25, 10)),
    ("unprioritised counts as L3", None, sh(2026, 2, 13, 10), sh(2026, 2, 24, 18), "first_response", 23 * H, "warning", sh(2026, 2, 25, 10)),
]


@pytest.mark.parametrize(
    ("priority", "created", "now", "clock", "elapsed", "level", "due"),
    [c[1:] for c in LEVEL_CASES],
    ids=[c[0] for c in LEVEL_CASES],
)
def test_running_clock_levels(
    priority: str | None, created: datetime, now: datetime, clock: str, elapsed: timedelta, level: str, due: datetime
) -> None:
    reading = clocks(Log.created(created), now, priority)[clock]
    assert (reading.elapsed, reading.level, reading.due_at, reading.phase) == (elapsed, level, due, "running")


def test_l3_complex_cases_get_five_working_days() -> None:
    log = Log.created(sh(2026, 11, 23, 9))  # Monday
    assert clocks(log, sh(2026, 11, 23, 10), "L3")["first_response"].due_at == sh(2026, 11, 25, 18)
    assert clocks(log, sh(2026, 11, 23, 10), "L3", complex_case=True)["first_response"].due_at == sh(2026, 11, 27, 18)


def test_zammad_3140_next_response_stops_once_the_agent_replied() -> None:
    log = (
        Log.created(sh(2026, 11, 23, 9))
        .add("responded", sh(2026, 11, 23, 9, 30))
        .add("message", sh(2026, 11, 23, 10))
        .add("responded", sh(2026, 11, 23, 10, 30))
    )
    later = clocks(log, sh(2026, 11, 26, 15))  # days later: the reply stopped the clock
    assert later["next_response"].phase == "stopped"
    assert (later["next_response"].elapsed, later["next_response"].level) == (30 * M, "ok")
    assert later["first_response"].phase == "stopped" and later["first_response"].level == "ok"


def test_zammad_5177_short_next_response_target_waits_for_the_first_reply() -> None:
    config = SlaConfig.model_validate(
        {"profiles": {"policy": {"targets": {"L2": {"first_response": "2h", "next_response": "30m", "calendar": "office"}}}}}
    )
    engine = SlaEngine(config, ENGINE.calendars)
    log = Log.created(sh(2026, 11, 23, 9)).add("message", sh(2026, 11, 23, 9, 10)).add("message", sh(2026, 11, 23, 9, 20))
    read = clocks(log, sh(2026, 11, 23, 10, 30), engine=engine)
    assert "next_response" not in read  # no cycle before the first response
    assert (read["first_response"].elapsed, read["first_response"].level) == (90 * M, "warning")
    log.add("responded", sh(2026, 11, 23, 10, 40)).add("message", sh(2026, 11, 23, 11))
    read = clocks(log, sh(2026, 11, 23, 11, 20), engine=engine)
    assert (read["next_response"].elapsed, read["next_response"].level) == (20 * M, "ok")


def test_waiting_for_the_customer_pauses_and_the_paused_time_is_reported() -> None:
    log = (
        Log.created(sh(2026, 11, 23, 9))
        .add("responded", sh(2026, 11, 23, 9, 30))
        .status(sh(2026, 11, 23, 10), "waiting")
        .status(sh(2026, 11, 23, 14), "processing")
    )
    paused = clocks(log, sh(2026, 11, 23, 12))["resolution"]
    assert (paused.phase, paused.elapsed, paused.paused) == ("paused", H, 2 * H)
    resumed = clocks(log, sh(2026, 11, 23, 15))["resolution"]
    assert (resumed.phase, resumed.elapsed, resumed.paused) == ("running", 2 * H, 3 * H)  # lunch is not work
    assert resumed.due_at == sh(2026, 11, 25, 12)  # 16 working hours - 2 = 14 from Mon 15:00


def test_paused_time_is_not_lost_when_the_sla_policy_changes() -> None:
    log = Log.created(sh(2026, 11, 23, 9)).status(sh(2026, 11, 23, 10), "waiting").status(sh(2026, 11, 23, 14), "processing")
    before = clocks(log, sh(2026, 11, 23, 15))["resolution"]
    stricter = SlaConfig.model_validate({"profiles": {"policy": {"targets": {"L2": {"resolution": "2.5h", "calendar": "office"}}}}})
    after = clocks(log, sh(2026, 11, 23, 15), engine=replace(ENGINE, sla=stricter))["resolution"]
    assert (after.elapsed, after.paused) == (before.elapsed, before.paused) == (2 * H, 3 * H)
    assert (after.target, after.level, after.due_at) == (150 * M, "warning", sh(2026, 11, 23, 15, 30))
    as_l3 = clocks(log, sh(2026, 11, 23, 15), "L3")["first_response"]  # a priority change recomputes too
    assert (as_l3.elapsed, as_l3.paused) == (2 * H, 3 * H)


def test_resolved_pauses_reopen_continues_closed_stops() -> None:
    log = Log.created(sh(2026, 11, 23, 9)).add("responded", sh(2026, 11, 23, 9, 10)).status(sh(2026, 11, 23, 11), "resolved")
    assert clocks(log, sh(2026, 11, 24, 11))["resolution"].phase == "paused"
    log.status(sh(2026, 11, 24, 11), "reopened").status(sh(2026, 11, 24, 11, 5), "processing")
    reopened = clocks(log, sh(2026, 11, 24, 12))["resolution"]
    assert (reopened.phase, reopened.elapsed) == ("running", 3 * H)  # 2 h before resolve + 1 h after reopen
    log.status(sh(2026, 11, 24, 12), "resolved").status(sh(2026, 11, 24, 12, 30), "closed")
    closed = clocks(log, sh(2026, 12, 24, 12))
    assert {r.phase for r in closed.values()} == {"stopped"}
    assert closed["resolution"].elapsed == 3 * H and closed["resolution"].level == "ok"


def test_a_response_after_the_deadline_is_recorded_as_breached() -> None:
    log = Log.created(sh(2026, 11, 23, 9)).add("responded", sh(2026, 11, 23, 12, 0))
    first = clocks(log, sh(2026, 11, 23, 13))["first_response"]
    assert (first.phase, first.level, first.elapsed) == ("stopped", "breached", 3 * H)


def test_triage_stops_at_the_first_human_action_not_at_routing() -> None:
    config = SlaConfig.model_validate({"profiles": {"policy": {"targets": {"L2": {"triage": "30m", "calendar": "24x7"}}}}})
    engine = replace(ENGINE, sla=config)
    log = Log.created(sh(2026, 11, 23, 9)).add("field", sh(2026, 11, 23, 9), actor="routing")
    assert clocks(log, sh(2026, 11, 23, 9, 20), engine=engine)["triage"].phase == "running"
    log.add("field", sh(2026, 11, 23, 9, 25))
    assert clocks(log, sh(2026, 11, 23, 9, 50), engine=engine)["triage"].phase == "stopped"


def test_a_clock_reaching_an_unknown_year_is_refused_and_the_override_fixes_it(tmp_path: Path) -> None:
    log = Log.created(sh(2026, 12, 31, 17))
    with pytest.raises(UnknownYearError, match="2027"):
        clocks(log, sh(2026, 12, 31, 17, 30))
    path = tmp_path / "days.yaml"
    path.write_text("years:\n  2027:\n    holidays: {2027-01-01: 元旦}\n", encoding="utf-8")
    years, days = load_overrides(path)
    engine = SlaEngine(SlaConfig(), build_calendars(CalendarsConfig(), day_table([*package_days([2026]), *days], {2026, *years})))
    assert clocks(log, sh(2026, 12, 31, 17, 30), engine=engine)["first_response"].due_at == sh(2027, 1, 4, 10)


def test_a_reading_as_of_a_past_time_ignores_later_events() -> None:
    log = Log.created(sh(2026, 11, 23, 9)).add("responded", sh(2026, 11, 23, 10)).add("message", sh(2026, 11, 23, 11))
    earlier = clocks(log, sh(2026, 11, 23, 9, 30))
    assert (earlier["first_response"].phase, earlier["first_response"].elapsed) == ("running", 30 * M)
    assert "next_response" not in earlier
