"""SLA and calendar configuration (``sla:`` and ``calendars:``): profiles are data.

A *span* is written ``30m``, ``2h`` or ``3wd``: minutes and hours are working time on the
target's calendar (wall time on a 24×7 calendar); ``wd`` is working days — multiples of the
calendar's working-day length (8 h for 09:00–12:00 + 13:00–18:00, 24 h on 24×7).
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from monitor.plugin import ConfigPath, TimezoneName

CLOCKS = ("triage", "first_response", "next_response", "resolution")
CLOCK_LABELS = {
    "triage": "登记分类 triage",
    "first_response": "首次响应 first response",
    "next_response": "再次响应 next response",
    "resolution": "解决 resolution",
}
PRIORITIES = ("L1", "L2", "L3")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WORKWEEK: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|wd)\s*$")
_WINDOW = re.compile(r"^\s*(\d\d):(\d\d)\s*-\s*(\d\d):(\d\d)\s*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Span(_Model):
    """An amount of working time: minutes, or working days (scaled by the calendar's day)."""

    minutes: float = 0.0
    working_days: float = 0.0

    def on(self, day_length: timedelta) -> timedelta:
        return timedelta(minutes=self.minutes) + day_length * self.working_days

    def __str__(self) -> str:
        if self.working_days:
            return f"{self.working_days:g}wd"
        return f"{self.minutes / 60:g}h" if self.minutes % 60 == 0 else f"{self.minutes:g}m"


def parse_span(value: object) -> object:
    if not isinstance(value, str):
        return value
    match = _SPAN.match(value)
    if not match:
        raise ValueError(f"时长格式应为 30m / 2h / 3wd — a span is like 30m, 2h or 3wd: {value!r}")
    number, unit = float(match[1]), match[2]
    if number <= 0:
        raise ValueError(f"时长须大于零 / a span must be positive: {value!r}")
    if unit == "wd":
        return {"working_days": number}
    return {"minutes": number * (60 if unit == "h" else 1)}


SpanField = Annotated[Span, BeforeValidator(parse_span)]


class ClockSpans(_Model):
    """Targets of the four clocks; a clock without a target is not run."""

    triage: SpanField | None = None
    first_response: SpanField | None = None
    next_response: SpanField | None = None
    resolution: SpanField | None = None


class PriorityTargets(ClockSpans):
    calendar: str = "office"
    complex: ClockSpans = ClockSpans()
    """Targets that replace the normal ones for tickets marked complex (复杂案件)."""

    def span(self, clock: str, *, complex_case: bool) -> Span | None:
        special: Span | None = getattr(self.complex, clock) if complex_case else None
        return special or getattr(self, clock)


class ProfileConfig(_Model):
    """One SLA policy: targets per priority, pause states, warning threshold."""

    description: str = ""
    warn_at: float = Field(0.75, gt=0, lt=1)
    pause_states: tuple[str, ...] = ("waiting", "resolved")
    unprioritised: Literal["L1", "L2", "L3"] = "L3"
    targets: dict[Literal["L1", "L2", "L3"], PriorityTargets]

    def for_priority(self, priority: str | None) -> PriorityTargets | None:
        for key, targets in self.targets.items():
            if key == (priority if priority in PRIORITIES else self.unprioritised):
                return targets
        return None


class SelectorMatch(_Model):
    channel: list[str] = Field(default_factory=list)
    type: list[str] = Field(default_factory=list)
    priority: list[Literal["L1", "L2", "L3"]] = Field(default_factory=list)
    department: list[str] = Field(default_factory=list)


class Selector(_Model):
    match: SelectorMatch
    profile: str


def _policy_default() -> dict[str, ProfileConfig]:
    return {**_policy_profile(), SURVEY_PROFILE: _survey_profile()}


def _policy_profile() -> dict[str, ProfileConfig]:
    office, always = "office", "24x7"
    return {
        "policy": ProfileConfig(
            description="客户反馈管理制度：L1 1 小时响应、24 小时出方案；L2 2 小时响应、2 个工作日解决；"
            "L3 3 个工作日答复（复杂 5 个）",
            targets={
                "L1": PriorityTargets.model_validate(
                    {"calendar": always, "first_response": "1h", "next_response": "1h", "resolution": "24h"}
                ),
                "L2": PriorityTargets.model_validate(
                    {"calendar": office, "first_response": "2h", "next_response": "2h", "resolution": "2wd"}
                ),
                "L3": PriorityTargets.model_validate(
                    {
                        "calendar": office,
                        "first_response": "3wd",
                        "next_response": "3wd",
                        "complex": {"first_response": "5wd"},
                    }
                ),
            },
        )
    }


def _survey_profile() -> ProfileConfig:
    office = {"calendar": "office", "resolution": "10wd"}
    return ProfileConfig(
        description="调查中的不满意答复转为工单：10 个工作日内解决 Negative survey answers: solved within 10 working days",
        targets={p: PriorityTargets.model_validate(office) for p in PRIORITIES},
    )


SURVEY_PROFILE = "survey"
"""Tickets of channel ``survey`` (negative survey answers) use this profile when it is defined
and no selector matched them first."""


class SlaConfig(_Model):
    """``sla:`` — profiles, which one applies to which ticket (first matching selector wins)."""

    default_profile: str = "policy"
    profiles: dict[str, ProfileConfig] = Field(default_factory=_policy_default)
    select: list[Selector] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_profiles(self) -> SlaConfig:
        names = {self.default_profile, *(s.profile for s in self.select)}
        unknown = sorted(names - set(self.profiles))
        if unknown:
            raise ValueError(f"unknown SLA profile(s) {', '.join(unknown)}; defined: {', '.join(self.profiles)}")
        return self


class CalendarDef(_Model):
    """One team's working hours: timezone, daily windows, weekdays, holiday source."""

    timezone: TimezoneName = "Asia/Shanghai"
    hours: list[str] = Field(default_factory=lambda: ["09:00-12:00", "13:00-18:00"])
    weekdays: list[Weekday] = Field(default_factory=lambda: list(WORKWEEK))
    holidays: Literal["china", "none"] = "china"
    always_open: bool = False

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: list[str]) -> list[str]:
        parse_windows(value)
        return value


def parse_windows(hours: list[str]) -> tuple[tuple[time, time], ...]:
    windows: list[tuple[time, time]] = []
    for text in hours:
        match = _WINDOW.match(text)
        if not match:
            raise ValueError(f"working hours look like 09:00-12:00: {text!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"not a time of day: {text!r}")
        start, end = time(h1, m1), time(0) if h2 == 24 else time(h2, m2)
        if end != time(0) and end <= start:
            raise ValueError(f"a window must end after it starts: {text!r}")
        if windows and (windows[-1][1] == time(0) or start < windows[-1][1]):
            raise ValueError(f"windows must be in order and not overlap: {text!r}")
        windows.append((start, end))
    if not windows:
        raise ValueError("at least one working-hours window")
    return tuple(windows)


def _calendars_default() -> dict[str, CalendarDef]:
    return {"office": CalendarDef(), "24x7": CalendarDef(always_open=True, holidays="none")}


class CalendarsConfig(_Model):
    """``calendars:`` — named business calendars and the holiday override file."""

    business: dict[str, CalendarDef] = Field(default_factory=_calendars_default)
    override_file: ConfigPath | None = None
    """YAML with holidays/make-up days for years the chinesecalendar package does not know yet,
    and company days (docs/sla.zh.md)."""
    warn_from_month: int = Field(11, ge=1, le=12)
    """From this month on, an unknown next year raises the operator warning."""

