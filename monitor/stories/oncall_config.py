"""The on-call file (``config/oncall.yaml``): people, teams, rotations, overrides, escalation, routes.

Validated like the main configuration: every error at once, with file, line and key path
(``oncall.yaml:12 teams.pr.rotations[0].shift_hours: shift of 12 h is outside the policy 8-10 h``).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from monitor.errors import ConfigError, ConfigIssue
from monitor.plugin import TimezoneName
from monitor.roles import Directory
from monitor.roles import Person as StaffPerson
from monitor.roles import Role as StaffRole
from monitor.yamlsource import load_yaml

Level = Literal["L1", "L2", "L3"]
Role = str  # "primary", "secondary", "manager" or any rotation role
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Policy(_Model):
    min_shift_hours: float = Field(8, gt=0, le=24)
    max_shift_hours: float = Field(10, gt=0, le=24)


class Person(_Model):
    name: str
    targets: list[str] = Field(default_factory=list)
    """Alert targets (``alerts.targets`` names in the main configuration) that reach this person;
    required for anyone on a rotation, an override or a team's manager."""
    mention: str = ""
    """How a group-chat bot mentions the person (WeCom/DingTalk mobile or user id, Slack id)."""
    role: StaffRole | None = None
    """What the person may do (``monitor.roles``): viewer, agent, supervisor or admin. When nobody
    has a role every actor acts as admin (with a warning); once someone has one, people without a
    role are viewers."""
    os_user: str | None = None
    """The login name that acts as this person when a command names no ``--actor``."""


class Rotation(_Model):
    name: str
    role: Role = "primary"
    type: Literal["daily", "weekly"] = "daily"
    start: date
    """The first shift starts on this date at ``handoff`` (team timezone)."""
    handoff: str = "09:00"
    shift_hours: float
    members: list[str] = Field(min_length=1)
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] | None = None

    @field_validator("handoff")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError("handoff must be HH:MM (24 h)")
        return value

    @property
    def handoff_time(self) -> time:
        hour, minute = self.handoff.split(":")
        return time(int(hour), int(minute))


class Override(_Model):
    role: Role = "primary"
    person: str
    start: datetime
    end: datetime
    """Naive times are in the team's timezone."""

    @model_validator(mode="after")
    def _order(self) -> Override:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class Step(_Model):
    notify: Role
    after_minutes: float = Field(0, ge=0)


class Team(_Model):
    timezone: TimezoneName = "Asia/Shanghai"
    rotations: list[Rotation] = Field(default_factory=list)
    overrides: list[Override] = Field(default_factory=list)
    manager: str | None = None
    escalation: list[Step] = Field(default_factory=lambda: [Step(notify="primary")], min_length=1)
    repeat_minutes: float = Field(30, gt=0)
    """After the last step, re-notify its people this often until someone acknowledges."""

    @model_validator(mode="after")
    def _steps_in_order(self) -> Team:
        times = [s.after_minutes for s in self.escalation]
        if times != sorted(times) or times[0] != 0:
            raise ValueError("escalation steps must start at after_minutes 0 and be in increasing order")
        return self


class RouteMatch(_Model):
    priority: list[Level] = Field(default_factory=list)
    category: list[str] = Field(default_factory=list)
    department: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    source: list[str] = Field(default_factory=list)


class Route(_Model):
    match: RouteMatch = RouteMatch()
    team: str


class OnCallConfig(_Model):
    timezone: TimezoneName = "Asia/Shanghai"
    policy: Policy = Policy()
    people: dict[str, Person] = Field(default_factory=dict)
    teams: dict[str, Team] = Field(min_length=1)
    routes: list[Route] = Field(default_factory=list)
    default_team: str | None = None
    source_file: str = ""

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> OnCallConfig:
        problems: list[str] = []
        for name, team in self.teams.items():
            for i, rotation in enumerate(team.rotations):
                where = f"teams.{name}.rotations[{i}]"
                if not self.policy.min_shift_hours <= rotation.shift_hours <= self.policy.max_shift_hours:
                    problems.append(
                        f"{where}.shift_hours: shift of {rotation.shift_hours:g} h is outside the policy "
                        f"{self.policy.min_shift_hours:g}-{self.policy.max_shift_hours:g} h"
                    )
                problems += [
                    f"{where}.members: unknown person {m!r}" for m in rotation.members if m not in self.people
                ]
            for i, override in enumerate(team.overrides):
                if override.person not in self.people:
                    problems.append(f"teams.{name}.overrides[{i}].person: unknown person {override.person!r}")
            if team.manager is not None and team.manager not in self.people:
                problems.append(f"teams.{name}.manager: unknown person {team.manager!r}")
            paged = {m for r in team.rotations for m in r.members} | {o.person for o in team.overrides}
            paged |= {team.manager} if team.manager else set()
            problems += [
                f"people.{p}.targets: {p!r} is on call in team {name!r} but has no alert targets"
                for p in sorted(paged)
                if p in self.people and not self.people[p].targets
            ]
            roles = {r.role for r in team.rotations} | {"manager"}
            for i, step in enumerate(team.escalation):
                if step.notify not in roles:
                    problems.append(
                        f"teams.{name}.escalation[{i}].notify: no rotation has role {step.notify!r}"
                    )
        for i, route in enumerate(self.routes):
            if route.team not in self.teams:
                problems.append(f"routes[{i}].team: unknown team {route.team!r}")
        if self.default_team is not None and self.default_team not in self.teams:
            problems.append(f"default_team: unknown team {self.default_team!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def load_oncall(path: Path, *, known_targets: set[str] | None = None) -> OnCallConfig:
    """Load and validate the on-call file; ConfigError lists every problem with its line."""
    doc = load_yaml(path)
    issues = list(doc.issues)
    data = doc.data if isinstance(doc.data, dict) else {}
    try:
        config = OnCallConfig.model_validate({**data, "source_file": doc.file})
    except ValidationError as exc:
        for err in exc.errors():
            if err["type"] == "value_error" and not err["loc"] and ": " in err["msg"]:
                for problem in err["msg"].removeprefix("Value error, ").split("; "):
                    key, _, message = problem.partition(": ")
                    issues.append(doc.issue(_parse_loc(key), message))
            else:
                issues.append(doc.issue(err["loc"], err["msg"]))
        raise ConfigError(issues) from None
    for name, person in config.people.items():
        for i, target in enumerate(person.targets):
            if known_targets is not None and target not in known_targets:
                issues.append(doc.issue(("people", name, "targets", i), f"unknown alert target {target!r}"))
    if issues:
        raise ConfigError(issues)
    return config


def person_id(config: OnCallConfig, actor: str) -> str:
    """The ``people`` id an ``--actor`` names (its id, or exactly its name); ValueError otherwise."""
    if actor in config.people:
        return actor
    named = [key for key, person in config.people.items() if person.name == actor]
    if len(named) == 1:
        return named[0]
    known = ", ".join(f"{key} ({p.name})" for key, p in sorted(config.people.items())) or "-"
    raise ValueError(f"未知的值班人员 unknown person {actor!r} (not in people of {config.source_file}); known: {known}")


def staff_directory(config: OnCallConfig | None) -> Directory:
    """The people as :mod:`monitor.roles` sees them (no on-call file: nobody, no roles)."""
    if config is None:
        return Directory({}, roles_configured=False)
    people = {
        key: StaffPerson(key, p.name, p.role or "viewer", p.os_user) for key, p in config.people.items()
    }
    configured = any(p.role is not None for p in config.people.values())
    return Directory(people, roles_configured=configured, source=config.source_file)


def _parse_loc(key: str) -> tuple[str | int, ...]:
    out: list[str | int] = []
    for part in key.split("."):
        name, *indexes = part.replace("]", "").split("[")
        out.append(name)
        out.extend(int(i) for i in indexes)
    return tuple(out)


__all__ = [
    "ConfigIssue",
    "OnCallConfig",
    "Override",
    "Person",
    "Rotation",
    "Route",
    "Step",
    "Team",
    "load_oncall",
    "person_id",
    "staff_directory",
]
