"""Rotations across handoff times, overrides, Asia/Shanghai and UTC teams, routing, file errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.errors import ConfigError
from monitor.stories.oncall import OnCall
from monitor.stories.oncall_config import load_oncall

ROOT = Path(__file__).resolve().parents[2]
SH = ZoneInfo("Asia/Shanghai")
ONCALL = OnCall(load_oncall(ROOT / "config" / "oncall.yaml"))


def at(text: str, zone: ZoneInfo = SH) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


@pytest.mark.parametrize(
    ("when", "team", "role", "person"),
    [
        (at("2026-11-02T01:59"), "pr", "primary", None),  # before the first shift ever
        (at("2026-11-02T09:00"), "pr", "primary", "zhang"),  # handoff: day shift, first member
        (at("2026-11-02T17:59"), "pr", "primary", "zhang"),
        (at("2026-11-02T18:00"), "pr", "primary", "li"),  # evening rotation takes over
        (at("2026-11-03T01:59"), "pr", "primary", "li"),  # evening shift crosses midnight
        (at("2026-11-03T02:00"), "pr", "primary", "wang"),  # night (weekly)
        (at("2026-11-03T09:00"), "pr", "primary", "li"),  # next day: daily rotation moved on
        (at("2026-11-04T09:00"), "pr", "primary", "zhang"),
        (at("2026-11-08T20:00"), "pr", "secondary", None),  # secondary covers 09:00-19:00 only
        (at("2026-11-08T18:59"), "pr", "secondary", "wang"),  # week 1 of the weekly secondary
        (at("2026-11-09T08:59"), "pr", "secondary", None),
        (at("2026-11-09T09:00"), "pr", "secondary", "li"),  # weekly handoff on Monday 09:00
        (at("2026-12-24T10:00"), "pr", "primary", "wang"),  # override wins
        (at("2026-12-24T18:00"), "pr", "primary", "li"),  # override ended, rotation again
        (datetime(2026, 11, 2, 8, 0, tzinfo=UTC), "global", "primary", "amy"),  # UTC team, 16:00 in Beijing
        (datetime(2026, 11, 9, 7, 59, tzinfo=UTC), "global", "primary", None),
        (datetime(2026, 11, 9, 8, 0, tzinfo=UTC), "global", "primary", "ben"),
        (at("2026-11-09T16:00"), "global", "primary", "ben"),  # same instant, given in Beijing time
    ],
    ids=[
        "before-start",
        "handoff",
        "end-of-day",
        "evening",
        "after-midnight",
        "night-weekly",
        "daily-advance",
        "daily-wraps",
        "secondary-off",
        "secondary-week1",
        "secondary-before-handoff",
        "weekly-handoff",
        "override",
        "override-ended",
        "utc-team",
        "utc-before-handoff",
        "utc-handoff",
        "utc-from-shanghai",
    ],
)
def test_who_is_on_call(when: datetime, team: str, role: str, person: str | None) -> None:
    shift = ONCALL.who(team, role, when)
    assert (shift.person if shift else None) == person


def test_escalation_falls_back_to_the_manager_when_a_role_is_uncovered() -> None:
    assert ONCALL.step_recipients("pr", 1, at("2026-11-08T20:00")) == ["chen"]
    assert ONCALL.step_recipients("pr", 0, at("2026-11-02T10:00")) == ["zhang"]
    assert ONCALL.step_recipients("pr", 2, at("2026-11-02T10:00")) == ["chen"]


@pytest.mark.parametrize(
    ("severity", "attributes", "sources", "team"),
    [
        ("L1", {}, ["weibo"], "pr"),
        ("L3", {}, ["reddit"], "global"),
        ("L3", {}, ["weibo"], "pr"),
    ],
    ids=["priority", "source", "default"],
)
def test_routing(severity: str, attributes: dict[str, list[str]], sources: list[str], team: str) -> None:
    assert ONCALL.route(severity, attributes, sources) == team


def test_preview_lists_fourteen_days_of_shifts_with_overrides() -> None:
    shifts = ONCALL.preview(at("2026-12-20T00:00"), 14)
    days = {s.start.astimezone(SH).date() for s in shifts if s.team == "pr"}
    assert len(days) == 14
    assert any(s.via == "override" and s.person == "wang" for s in shifts)
    assert all(8 <= (s.end - s.start).total_seconds() / 3600 <= 10 for s in shifts if s.via != "override")


def test_invalid_file_reports_every_error_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "oncall.yaml"
    path.write_text(
        "people:\n"
        "  a: {name: A, targets: [t]}\n"
        "teams:\n"
        "  pr:\n"
        "    timezone: Mars/Base\n"
        "    rotations:\n"
        "      - {name: d, start: 2026-11-02, handoff: '25:00', shift_hours: 9, members: [a]}\n"
        "  ops:\n"
        "    rotations:\n"
        "      - {name: d, start: 2026-11-02, shift_hours: 12, members: [a, ghost]}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_oncall(path)
    text = str(info.value)
    assert f"{path}:5 teams.pr.timezone" in text and "unknown timezone" in text
    assert f"{path}:7 teams.pr.rotations[0].handoff" in text
    path.write_text(
        path.read_text().replace("Mars/Base", "UTC").replace("'25:00'", "'09:00'"), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as info:
        load_oncall(path, known_targets={"x"})
    text = str(info.value)
    assert f"{path}:10 teams.ops.rotations[0].shift_hours: shift of 12 h is outside the policy 8-10 h" in text
    assert "teams.ops.rotations[0].members: unknown person 'ghost'" in text


def test_the_example_file_names_only_known_targets() -> None:
    targets = {"wecom-pr", "dingtalk-pr", "email-manager", "slack-global"}
    assert load_oncall(ROOT / "config" / "oncall.yaml", known_targets=targets).default_team == "pr"
    with pytest.raises(ConfigError, match="unknown alert target 'slack-global'"):
        load_oncall(ROOT / "config" / "oncall.yaml", known_targets=targets - {"slack-global"})
