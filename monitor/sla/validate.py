"""Cross-section checks of ``sla:`` against ``calendars:`` and the ticket states (config load)."""

from __future__ import annotations

from monitor.sla.settings import CalendarsConfig, SlaConfig


def check_profiles(sla: SlaConfig, calendars: CalendarsConfig) -> None:
    """Cross-section check: every profile names known calendars and known pause states."""
    from monitor.tickets.lifecycle import STATUSES

    for name, profile in sla.profiles.items():
        for priority, targets in profile.targets.items():
            if targets.calendar not in calendars.business:
                raise ValueError(
                    f"sla.profiles.{name}.targets.{priority}.calendar: unknown calendar {targets.calendar!r};"
                    f" defined: {', '.join(calendars.business)}"
                )
        bad = sorted(set(profile.pause_states) - set(STATUSES))
        if bad:
            raise ValueError(f"sla.profiles.{name}.pause_states: unknown status(es) {', '.join(bad)}")
