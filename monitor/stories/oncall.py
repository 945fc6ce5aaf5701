"""Who is on call: rotations with handoff times and 8-10 h shifts, overrides, routing, escalation.

All arithmetic happens in the team's timezone (``zoneinfo``), so a 09:00 handoff is 09:00 local
whatever the server's zone; Asia/Shanghai has no DST, a UTC team neither, and zones with DST are
handled by ``zoneinfo`` (a shift starting in the skipped hour starts at the shifted wall time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.stories.oncall_config import OnCallConfig, Person, Rotation, Route, Team

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Shift:
    team: str
    role: str
    person: str
    start: datetime
    end: datetime
    via: str  # "rotation:<name>" or "override"


def _local(value: datetime, zone: ZoneInfo) -> datetime:
    return value.replace(tzinfo=zone) if value.tzinfo is None else value.astimezone(zone)


def rotation_shift(rotation: Rotation, day: date, zone: ZoneInfo) -> tuple[datetime, datetime, str] | None:
    """The shift of ``rotation`` that starts on local date ``day`` (None: no shift that day)."""
    if day < rotation.start:
        return None
    if rotation.weekdays is not None and WEEKDAYS[day.weekday()] not in rotation.weekdays:
        return None
    days = (day - rotation.start).days
    slot = days if rotation.type == "daily" else days // 7
    start = datetime.combine(day, rotation.handoff_time, tzinfo=zone)
    return (
        start,
        start + timedelta(hours=rotation.shift_hours),
        rotation.members[slot % len(rotation.members)],
    )


class OnCall:
    """Answers who to page, built once from a validated :class:`OnCallConfig`."""

    def __init__(self, config: OnCallConfig) -> None:
        self.config = config
        self.zones = {name: ZoneInfo(team.timezone) for name, team in config.teams.items()}

    @property
    def people(self) -> Mapping[str, Person]:
        return self.config.people

    def team(self, name: str) -> Team:
        return self.config.teams[name]

    def who(self, team_name: str, role: str, at: datetime) -> Shift | None:
        """The person holding ``role`` in ``team`` at ``at`` (an override wins over rotations)."""
        team, zone = self.config.teams[team_name], self.zones[team_name]
        moment = at.astimezone(zone)
        for override in team.overrides:
            start, end = _local(override.start, zone), _local(override.end, zone)
            if override.role == role and start <= moment < end:
                return Shift(team_name, role, override.person, start, end, "override")
        if role == "manager":
            if team.manager is None:
                return None
            day = moment.date()
            start = datetime.combine(day, datetime.min.time(), tzinfo=zone)
            return Shift(team_name, role, team.manager, start, start + timedelta(days=1), "manager")
        for rotation in team.rotations:
            if rotation.role != role:
                continue
            for day in (moment.date() - timedelta(days=1), moment.date()):
                shift = rotation_shift(rotation, day, zone)
                if shift is not None and shift[0] <= moment < shift[1]:
                    return Shift(team_name, role, shift[2], shift[0], shift[1], f"rotation:{rotation.name}")
        return None

    def roles(self, team_name: str) -> list[str]:
        team = self.config.teams[team_name]
        ordered = [s.notify for s in team.escalation]
        ordered += [r.role for r in team.rotations]
        return list(dict.fromkeys([*ordered, "manager"]))

    def step_recipients(self, team_name: str, step: int, at: datetime) -> list[str]:
        """People for escalation step ``step``: its role's holder, else the manager (never nobody if
        a manager is set)."""
        team = self.config.teams[team_name]
        role = team.escalation[min(step, len(team.escalation) - 1)].notify
        shift = self.who(team_name, role, at) or self.who(team_name, "manager", at)
        return [shift.person] if shift is not None else []

    def route(self, severity: str, attributes: Mapping[str, Sequence[str]], sources: Iterable[str]) -> str:
        """The first route whose every non-empty condition matches; else the default (first) team."""
        source_set = set(sources)
        for route in self.config.routes:
            if _matches(route, severity, attributes, source_set):
                return route.team
        return self.config.default_team or next(iter(self.config.teams))

    def preview(self, start: datetime, days: int) -> list[Shift]:
        """Every shift (rotations, with overrides cut in) that starts in ``days`` days from ``start``."""
        out: list[Shift] = []
        for team_name, team in self.config.teams.items():
            zone = self.zones[team_name]
            first = start.astimezone(zone).date()
            for offset in range(days):
                day = first + timedelta(days=offset)
                for rotation in team.rotations:
                    shift = rotation_shift(rotation, day, zone)
                    if shift is not None:
                        out.append(
                            Shift(
                                team_name,
                                rotation.role,
                                shift[2],
                                shift[0],
                                shift[1],
                                f"rotation:{rotation.name}",
                            )
                        )
            end = datetime.combine(first + timedelta(days=days), datetime.min.time(), tzinfo=zone)
            for override in team.overrides:
                o_start, o_end = _local(override.start, zone), _local(override.end, zone)
                if o_end > start and o_start < end:
                    out.append(Shift(team_name, override.role, override.person, o_start, o_end, "override"))
        return sorted(out, key=lambda s: (s.start.astimezone(UTC), s.team, s.role))


def _matches(route: Route, severity: str, attributes: Mapping[str, Sequence[str]], sources: set[str]) -> bool:
    m = route.match
    checks: list[bool] = []
    if m.priority:
        checks.append(severity in m.priority)
    for name, wanted in (("category", m.category), ("department", m.department), ("tags", m.tags)):
        if wanted:
            checks.append(bool(set(wanted) & set(attributes.get(name, ()))))
    if m.source:
        checks.append(bool(set(m.source) & sources))
    return all(checks)
