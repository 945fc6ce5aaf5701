"""Noise control decisions: send now, collect into a digest, or hold for the overflow summary.

Pure functions of a target's settings, the alert and what was dispatched to the target in the
last hour; ``monitor.alerts.shaping`` applies them to rows under the target's lock.

* ``always_page`` priorities (default L1) are sent at once: quiet hours, digests and the cap
  never hold them (they count toward the cap).
* In **quiet hours** everything else is collected into the target's digest, sent when the quiet
  window ends.
* **Digest** priorities (e.g. L3) are collected and sent as one message every N minutes.
* Over **max_per_hour** dispatched notifications in the last 60 minutes, the rest go into one
  overflow summary, sent when the oldest of those leaves the window (so a target receives at
  most ``max_per_hour`` alerts plus one summary per hour, apart from ``always_page`` ones).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.targets import NoiseConfig

HOUR = timedelta(hours=1)
SUMMARY_KINDS = ("digest", "overflow")


class Action(enum.Enum):
    SEND = "send"
    DIGEST = "digest"
    OVERFLOW = "overflow"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    due: datetime | None = None  # when the summary the alert joins is to be sent
    why: str = ""


@dataclass(frozen=True, slots=True)
class Window:
    """What the target received in the last hour (rows with ``dispatched_at`` in it)."""

    count: int = 0
    oldest: datetime | None = None

    def plus_one(self, at: datetime) -> Window:
        return Window(self.count + 1, self.oldest or at)


def quiet_until(config: NoiseConfig, now: datetime) -> datetime | None:
    """End (aware, UTC) of the quiet period ``now`` is in, in the target's timezone; else None.

    Windows that touch or overlap (``22:00-02:00`` and ``02:00-07:00``) make one quiet period; a
    window never joins its own next occurrence, so ``00:00-24:00`` ends (with a digest) at midnight.
    """
    found = _containing_end(config, now, exclude=None)
    if found is None:
        return None
    end, used = found
    for _ in config.quiet_hours:
        later = _containing_end(config, end, exclude=used)
        if later is None or later[0] <= end:
            break
        end, used = later
    return end


def _containing_end(config: NoiseConfig, at: datetime, *, exclude: int | None) -> tuple[datetime, int] | None:
    """The latest end of the windows that contain ``at``, and which window it is."""
    zone = ZoneInfo(config.timezone)
    local = at.astimezone(zone)
    best: tuple[datetime, int] | None = None
    for index, window in enumerate(config.quiet_hours):
        if index == exclude:
            continue
        # a window that crosses midnight may have started yesterday
        for start_day in (local.date(), local.date() - timedelta(days=1)):
            start = datetime.combine(start_day, window.start, zone)
            end_day = start_day if window.end > window.start else start_day + timedelta(days=1)
            end = datetime.combine(end_day, window.end, zone).astimezone(UTC)
            if start <= local < end and (best is None or end > best[0]):
                best = (end, index)
    return best


def decide(
    config: NoiseConfig, *, priority: str | None, kind: str, now: datetime, window: Window
) -> Decision:
    """What to do with one due alert that was never dispatched."""
    if kind in SUMMARY_KINDS or priority in config.always_page:
        return Decision(Action.SEND)
    quiet = quiet_until(config, now)
    if quiet is not None:
        return Decision(Action.DIGEST, quiet, "quiet hours")
    if config.digest is not None and priority in config.digest.priorities:
        return Decision(Action.DIGEST, now + timedelta(minutes=config.digest.every_minutes), "digest")
    if config.max_per_hour is not None and window.count >= config.max_per_hour:
        return Decision(Action.OVERFLOW, (window.oldest or now) + HOUR, "hourly cap")
    return Decision(Action.SEND)


def summary_due(config: NoiseConfig, *, kind: str, now: datetime, window: Window) -> Decision:
    """A collected summary has come due: send it, hold it for quiet hours, or fold a digest into
    the overflow summary when the cap is full (one summary for everything held back)."""
    quiet = quiet_until(config, now)
    if quiet is not None:
        return Decision(Action.DIGEST, quiet, "quiet hours")
    if kind == "digest" and config.max_per_hour is not None and window.count >= config.max_per_hour:
        return Decision(Action.OVERFLOW, (window.oldest or now) + HOUR, "hourly cap")
    return Decision(Action.SEND)
