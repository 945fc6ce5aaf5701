"""Profiles are data: the shipped policy, the two example policies, selection and validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from monitor.config import AppConfig
from monitor.sla.clocks import ClockEvent
from monitor.sla.holidays import day_table, load_overrides, package_days
from monitor.sla.policy import SlaEngine, TicketFacts, build_calendars
from monitor.sla.settings import CalendarsConfig, SlaConfig

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((ROOT / "config" / "sla-profiles.example.yaml").read_text(encoding="utf-8"))
SLA = SlaConfig.model_validate(EXAMPLE["sla"])
ENGINE = SlaEngine(SLA, build_calendars(CalendarsConfig.model_validate(EXAMPLE["calendars"]), day_table(package_days([2026]), [2026])))
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
H = timedelta(hours=1)

CASES = [
    ("complaint: classify 30m, reply 24h, resolve 72h", "email", "complaint", False, "complaints",
     {"triage": T0 + H / 2, "first_response": T0 + 24 * H, "resolution": T0 + 72 * H}),
    ("registration: register 24h, contact 48h", "feedback", "inquiry", False, "registration",
     {"triage": T0 + 24 * H, "first_response": T0 + 48 * H}),
    ("registration complex: answered within 72h", "email", "suggestion", True, "registration",
     {"triage": T0 + 24 * H, "first_response": T0 + 48 * H, "resolution": T0 + 72 * H}),
    ("other tickets: the default policy", "chat", "praise", False, "policy",
     {"first_response": datetime(2026, 11, 23, 3, 0, tzinfo=UTC), "resolution": datetime(2026, 11, 24, 10, 0, tzinfo=UTC)}),  # end of the 2nd working day
]  # fmt: skip


@pytest.mark.parametrize(("channel", "type_", "complex_case", "profile", "due"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_example_profiles(channel: str, type_: str, complex_case: bool, profile: str, due: dict[str, datetime]) -> None:
    facts = TicketFacts(channel=channel, type=type_, priority="L2", department=None, complex=complex_case)
    name, readings = ENGINE.read(facts, [ClockEvent(1, "created", T0)], T0 + H / 4)
    assert name == profile
    assert {r.clock: r.due_at for r in readings} == due


def test_the_shipped_configuration_example_parses_and_the_override_example_loads() -> None:
    years, days = load_overrides(ROOT / "config" / "calendar-overrides.example.yaml")
    assert 2027 in years and any(d.source == "company" for d in days)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"sla": {"profiles": {"p": {"targets": {"L1": {"first_response": "2 hours"}}}}, "default_profile": "p"}}, "30m, 2h or 3wd"),
        ({"sla": {"profiles": {"p": {"targets": {"L1": {"calendar": "night"}}}}, "default_profile": "p"}}, "unknown calendar"),
        ({"sla": {"default_profile": "nope"}}, "unknown SLA profile"),
        ({"sla": {"profiles": {"p": {"pause_states": ["lunch"], "targets": {}}}, "default_profile": "p"}}, "unknown status"),
        ({"calendars": {"business": {"x": {"hours": ["18:00-09:00"]}}}}, "end after it starts"),
        ({"calendars": {"business": {"x": {"timezone": "Mars/Olympus"}}}}, "unknown timezone"),
    ],
    ids=["bad-span", "unknown-calendar", "unknown-profile", "bad-pause-state", "bad-hours", "bad-timezone"],
)
def test_bad_sla_configuration_is_refused_with_the_reason(section: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AppConfig.model_validate(section)
