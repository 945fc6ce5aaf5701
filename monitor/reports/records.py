"""The month's metrics as frozen records: what ``yuqing stats --json`` prints and the report shows.

Numbers are rounded once, here (hours to 2 decimals, rates to 4), so the table, the JSON, the
HTML and the CSV all carry the very same values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

DIMENSIONS = {"channel": "channel", "type": "feedback_type", "category": "category", "priority": "priority"}


def hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(float(seconds) / 3600.0, 2)


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True, slots=True)
class Durations:
    """First-response or resolution time in hours over the tickets that have one."""

    count: int
    mean_hours: float | None
    p50_hours: float | None
    p90_hours: float | None


@dataclass(frozen=True, slots=True)
class GroupStats:
    key: str
    tickets: int
    resolved: int
    """Tickets whose status now is resolved or closed."""
    resolution_rate: float | None
    reopened: int
    """Tickets with a status event to ``reopened`` (resolved → reopened, 二次处理)."""
    reopen_rate: float | None
    """``reopened`` over tickets that were ever resolved."""
    closed: int
    closed_loop_rate: float | None
    """``closed`` over ``resolved`` (the loop closed with the customer, 闭环)."""
    first_response: Durations
    resolution_time: Durations


@dataclass(frozen=True, slots=True)
class Bucket:
    bucket: str
    tickets: int
    change: float | None = None
    """Relative change against the previous bucket (0.1 = +10 %)."""


@dataclass(frozen=True, slots=True)
class Ranked:
    key: str
    count: int
    weeks: int = 0
    sample: str = ""


@dataclass(frozen=True, slots=True)
class TargetCheck:
    name: str
    label: str
    target: float
    comparison: str  # "<=" or ">="
    value: float | None
    met: bool | None  # None: no data yet

    @property
    def verdict(self) -> str:
        return "n/a" if self.met is None else ("met" if self.met else "missed")


@dataclass(frozen=True, slots=True)
class Unresolved:
    code: str
    priority: str
    channel: str
    status: str
    created_at: str
    title: str


@dataclass(frozen=True, slots=True)
class Change:
    """This month against the previous one (tickets: relative; resolution rate: absolute)."""

    tickets: float | None
    resolution_rate: float | None


@dataclass(frozen=True, slots=True)
class PreviousMonth:
    tickets: int
    resolved: int

    @property
    def resolution_rate(self) -> float | None:
        return rate(self.resolved, self.tickets)


@dataclass(frozen=True, slots=True)
class Section:
    """A plug-in section (SLA, satisfaction, surveys): ``None`` rows mean no data yet."""

    name: str
    available: bool
    rows: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""


@dataclass(frozen=True, slots=True)
class MonthStats:
    period: str
    start: str
    end: str
    utc_offset_hours: int
    totals: GroupStats
    previous: PreviousMonth
    month_on_month: Change
    week_on_week: float | None
    by: dict[str, list[GroupStats]]
    daily: list[Bucket]
    weekly: list[Bucket]
    monthly: list[Bucket]
    keywords: list[Ranked]
    hot_topics: list[Ranked]
    recurring: list[Ranked]
    unresolved_count: int
    unresolved: list[Unresolved]
    sla: Section
    satisfaction: Section
    surveys: Section
    targets: list[TargetCheck]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["targets"] = [{**asdict(t), "verdict": t.verdict} for t in self.targets]
        return data
