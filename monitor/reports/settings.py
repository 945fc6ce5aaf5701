"""``reports:`` and ``backups:`` configuration (validated into frozen models at start-up)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from monitor.plugin import ConfigPath


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Targets(_Model):
    """The policy's targets; every metric in ``yuqing stats`` and the report is shown against one."""

    first_response_hours: float = Field(24.0, gt=0)
    """Average first response within this many hours."""
    resolution_rate: float = Field(0.95, ge=0, le=1)
    complaint_satisfaction: float = Field(0.90, ge=0, le=1)
    overall_satisfaction: float = Field(0.85, ge=0, le=1)
    major_on_time: float = Field(1.0, ge=0, le=1)
    """Share of major (L1) complaints handled within their SLA."""
    closed_loop: float = Field(1.0, ge=0, le=1)
    """Share of resolved tickets that were closed with the customer (闭环)."""


class MonthlyReportConfig(_Model):
    enabled: bool = False
    recipients: list[str] = Field(default_factory=list)
    sender_target: str | None = None
    """Name of an ``email`` alert target whose SMTP settings send the report (default: the first)."""
    day: int = Field(1, ge=1, le=28)
    """Day of the month the previous month's report is mailed (from 08:00 local time)."""
    out_dir: ConfigPath | None = None
    """Where mailed reports are kept (default ``<state_dir>/reports``)."""


class ReportsConfig(_Model):
    utc_offset_hours: int = Field(8, ge=-12, le=14)
    """Days, weeks and months are counted in this fixed offset (China: +8, no daylight saving)."""
    targets: Targets = Targets()
    monthly: MonthlyReportConfig = MonthlyReportConfig()
    top_keywords: int = Field(20, ge=1, le=200)


class BackupsConfig(_Model):
    """Scheduled SQLite backups: one a day, a full one kept per week, older ones pruned."""

    enabled: bool = False
    dir: ConfigPath | None = None
    """Default ``<state_dir>/backups``."""
    keep_daily: int = Field(7, ge=1, le=366)
    keep_weekly: int = Field(4, ge=0, le=520)
    hour: int = Field(3, ge=0, le=23)
    """Local hour (``reports.utc_offset_hours``) after which the day's backup is taken."""

    def directory(self, state_dir: Path) -> Path:
        return Path(self.dir) if self.dir is not None else state_dir / "backups"
