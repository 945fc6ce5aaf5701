"""An alert target's configuration (one ``alerts.targets[]`` entry) and its noise-control keys.

A leaf module: the configuration loader, the alert stage and its tests share these models without
importing each other (no config <-> alerts cycle).
"""

from __future__ import annotations

import re
from datetime import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitor.plugin import TimezoneName

Level = Literal["L1", "L2", "L3"]
_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuietWindow(_Model):
    """``start``-``end`` in the target's timezone; ``end`` before ``start`` crosses midnight."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietWindow:
        match = _WINDOW.match(text.strip())
        if match is None:
            raise ValueError(f"quiet window {text!r} must look like 22:00-08:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h2 == 24 and m2:
            raise ValueError(f"quiet window {text!r}: 24:MM is not a time")
        if (h1, m1) == (h2, m2):  # 00:00-24:00 is the whole day
            raise ValueError(f"quiet window {text!r} is empty")
        return cls(start=time(h1, m1), end=time(h2 % 24, m2))


class DigestConfig(_Model):
    """Collect a target's lower-priority alerts and send them as one message every N minutes."""

    priorities: tuple[Level, ...] = ("L3",)
    """Alerts of these priorities are collected (never one in ``always_page``)."""
    every_minutes: float = Field(30.0, gt=0, le=1440)


class NoiseConfig(_Model):
    """The noise-control keys of a target (all optional; defaults change nothing)."""

    timezone: TimezoneName = "Asia/Shanghai"
    always_page: tuple[Level, ...] = ("L1",)
    """Priorities sent at once even in quiet hours, never digested and never held by the cap."""
    quiet_hours: tuple[QuietWindow, ...] = ()
    digest: DigestConfig | None = None
    max_per_hour: int | None = Field(None, ge=1)

    @field_validator("quiet_hours", mode="before")
    @classmethod
    def _windows(cls, value: object) -> object:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            return tuple(QuietWindow.parse(v) if isinstance(v, str) else v for v in value)
        return value

    @property
    def active(self) -> bool:
        """Whether anything here can hold, fold or cap an alert."""
        return bool(self.quiet_hours or self.digest is not None or self.max_per_hour is not None)


NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""Names of sources, targets and instances: safe in logs, file names and metric labels."""


class TargetConfig(NoiseConfig):
    """An alert target (sender): common keys, noise control (quiet hours, digest, hourly cap)
    plus the sender's own section."""

    name: str = Field(pattern=NAME_PATTERN)
    kind: str
    enabled: bool = True
    min_priority: Level = "L3"
    settings: Any = None
