"""The route tree (``alerts.route``): who is told about a notice, and how it is grouped.

Modelled on Alertmanager's route tree (``dispatch/route.go``): a notice walks down from the root;
at each node the children are tried in order, the first child whose ``match`` holds takes it
(and its own children are tried in turn), unless that child says ``continue: true``, in which
case the following siblings are tried too. A node none of whose children matched takes the notice
itself. Children inherit ``receivers``, ``oncall`` and the group settings they do not set.
The root matches everything: it is the default route.

A notice that matches several routes (``continue``) goes to the union of their receivers, the
on-call team of the first one that names a team, and the shortest group settings.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Level = Literal["L1", "L2", "L3"]
Kind = Literal["ticket", "incident", "review", "operator", "sla"]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def seconds(value: object) -> object:
    """``30s``, ``5m``, ``4h``, ``1d`` or a number of seconds."""
    if isinstance(value, str):
        found = _DURATION.match(value)
        if found is None:
            raise ValueError(f"duration {value!r} must look like 30s, 5m, 4h or a number of seconds")
        return float(found.group(1)) * _UNIT[found.group(2)]
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RouteMatch(_Model):
    """Every non-empty condition must hold; within one condition any listed value is enough.
    ``rules`` entries may use shell wildcards (``safety.*``)."""

    kind: list[Kind] = Field(default_factory=list)
    priority: list[Level] = Field(default_factory=list)
    type: list[str] = Field(default_factory=list)
    category: list[str] = Field(default_factory=list)
    team: list[str] = Field(default_factory=list)
    """The department/team the rules assigned (a finding's ``department``)."""
    tags: list[str] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)
    channel: list[str] = Field(default_factory=list)
    source: list[str] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(getattr(self, name) for name in RouteMatch.model_fields)


class RouteConfig(_Model):
    name: str = ""
    match: RouteMatch = RouteMatch()
    receivers: list[str] | None = None
    """Alert targets told at the first notification (None: inherited from the parent)."""
    oncall: str | None = None
    """On-call team (``alerts.oncall`` file) paged along its escalation chain (None: inherited)."""
    continue_: bool = Field(False, alias="continue")
    group_wait: float | None = Field(None, ge=0, le=86400)
    group_interval: float | None = Field(None, gt=0, le=86400)
    repeat_interval: float | None = Field(None, gt=0, le=7 * 86400)
    routes: list[RouteConfig] = Field(default_factory=list)

    @field_validator("group_wait", "group_interval", "repeat_interval", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return seconds(value)


DEFAULT_GROUP_WAIT = 30.0
DEFAULT_GROUP_INTERVAL = 300.0
DEFAULT_REPEAT_INTERVAL = 4 * 3600.0


@dataclass(frozen=True, slots=True)
class Subject:
    """What routes match on: the notice kind and the story's attributes."""

    kind: str
    priority: str | None = None
    types: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()

    def record(self) -> dict[str, Any]:
        """JSON for the story row (what it was routed on)."""
        out: dict[str, Any] = {"kind": self.kind, "priority": self.priority}
        for name in ("types", "categories", "teams", "tags", "rules", "channels", "sources"):
            out[name] = sorted(getattr(self, name))
        return out


def _any(wanted: list[str], have: Iterable[str]) -> bool:
    return bool(set(wanted) & set(have))


def matches(match: RouteMatch, subject: Subject) -> bool:
    checks = [
        not match.kind or subject.kind in match.kind,
        not match.priority or subject.priority in match.priority,
        not match.type or _any(match.type, subject.types),
        not match.category or _any(match.category, subject.categories),
        not match.team or _any(match.team, subject.teams),
        not match.tags or _any(match.tags, subject.tags),
        not match.channel or _any(match.channel, subject.channels),
        not match.source or _any(match.source, subject.sources),
        not match.rules
        or any(fnmatch.fnmatchcase(rule, pattern) for pattern in match.rules for rule in subject.rules),
    ]
    return all(checks)


@dataclass(frozen=True, slots=True)
class MatchedRoute:
    """One route a notice landed on, with everything inherited resolved."""

    path: str
    receivers: tuple[str, ...]
    oncall: str | None
    group_wait: float
    group_interval: float
    repeat_interval: float


@dataclass(frozen=True, slots=True)
class Routing:
    """The union of the matched routes: what a story stores and follows."""

    routes: tuple[MatchedRoute, ...]

    @property
    def path(self) -> str:
        return ",".join(r.path for r in self.routes)

    @property
    def receivers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for r in self.routes for t in r.receivers))

    @property
    def oncall(self) -> str | None:
        return next((r.oncall for r in self.routes if r.oncall), None)

    @property
    def group_wait(self) -> float:
        return min(r.group_wait for r in self.routes)

    @property
    def group_interval(self) -> float:
        return min(r.group_interval for r in self.routes)

    @property
    def repeat_interval(self) -> float:
        return min(r.repeat_interval for r in self.routes)


class RouteTree:
    """The validated tree, ready to match (built once per configuration)."""

    def __init__(self, root: RouteConfig) -> None:
        self.root = root

    def match(self, subject: Subject) -> Routing:
        base = MatchedRoute(
            "root",
            tuple(self.root.receivers or ()),
            self.root.oncall,
            DEFAULT_GROUP_WAIT if self.root.group_wait is None else self.root.group_wait,
            self.root.group_interval or DEFAULT_GROUP_INTERVAL,
            self.root.repeat_interval or DEFAULT_REPEAT_INTERVAL,
        )
        return Routing(tuple(_walk(self.root, base, subject)))


def _inherit(node: RouteConfig, parent: MatchedRoute, path: str) -> MatchedRoute:
    return MatchedRoute(
        path,
        tuple(node.receivers) if node.receivers is not None else parent.receivers,
        node.oncall if node.oncall is not None else parent.oncall,
        parent.group_wait if node.group_wait is None else node.group_wait,
        node.group_interval or parent.group_interval,
        node.repeat_interval or parent.repeat_interval,
    )


def _walk(node: RouteConfig, here: MatchedRoute, subject: Subject) -> list[MatchedRoute]:
    found: list[MatchedRoute] = []
    for index, child in enumerate(node.routes):
        if not matches(child.match, subject):
            continue
        path = f"{here.path}/{child.name or index}"
        found += _walk(child, _inherit(child, here, path), subject)
        if not child.continue_:
            break
    return found or [here]


def route_problems(root: RouteConfig, targets: set[str], teams: set[str] | None) -> list[str]:
    """Unknown receivers or teams anywhere in the tree, as ``key.path: message``."""
    problems: list[str] = []
    if not root.match.empty:
        problems.append("alerts.route.match: the root route matches everything; move conditions to a child")

    def visit(node: RouteConfig, where: str) -> None:
        for i, name in enumerate(node.receivers or ()):
            if name not in targets:
                problems.append(f"{where}.receivers[{i}]: unknown alert target {name!r}")
        if node.oncall is not None and teams is not None and node.oncall not in teams:
            known = ", ".join(sorted(teams)) or "none: set alerts.oncall"
            problems.append(f"{where}.oncall: unknown on-call team {node.oncall!r} (known: {known})")
        for i, child in enumerate(node.routes):
            visit(child, f"{where}.routes[{i}]")

    visit(root, "alerts.route")
    return problems
