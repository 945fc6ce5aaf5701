"""What the lifecycle owner needs from the configuration, built once per configuration.

``StoriesSettings`` is frozen and built by the runtime (``monitor.runtime.build_context``); the
pipeline, the escalation job, the CLI and the ack endpoint all use the same one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from monitor.errors import ConfigError, ConfigIssue
from monitor.stories.oncall import OnCall
from monitor.stories.oncall_config import OnCallConfig
from monitor.stories.routes import RouteConfig, RouteMatch, RouteTree, route_problems
from monitor.targets import TargetConfig
from monitor.tickets.incident_settings import IncidentsConfig


@dataclass(frozen=True)
class StoriesSettings:
    """The route tree, the enabled targets, the on-call schedule and the incident settings."""

    routes: RouteTree
    targets: tuple[TargetConfig, ...]
    incidents: IncidentsConfig = field(default_factory=IncidentsConfig)
    oncall: OnCall | None = None

    def target(self, name: str) -> TargetConfig | None:
        return next((t for t in self.targets if t.name == name and t.enabled), None)


def legacy_route(targets: Sequence[TargetConfig], oncall: OnCallConfig | None) -> RouteConfig:
    """The tree an old configuration (no ``alerts.route``) meant: every target, or the on-call
    routes of ``oncall.yaml``; notifications at once (``group_wait: 0``) as before."""
    everyone = [t.name for t in targets if t.enabled]
    operators = RouteConfig(
        name="operators", match=RouteMatch(kind=["operator", "review"]), receivers=everyone
    )
    if oncall is None:
        return RouteConfig(name="root", receivers=everyone, group_wait=0, routes=[operators])
    children = [operators]
    for i, old in enumerate(oncall.routes):
        m = old.match
        match = RouteMatch(
            priority=list(m.priority),
            category=list(m.category),
            team=list(m.department),
            tags=list(m.tags),
            source=list(m.source),
        )
        children.append(RouteConfig(name=f"oncall-{i}", match=match, oncall=old.team))
    default = oncall.default_team or next(iter(oncall.teams))
    return RouteConfig(name="root", receivers=[], oncall=default, group_wait=0, routes=children)


def build_settings(
    route: RouteConfig | None,
    targets: Sequence[TargetConfig],
    incidents: IncidentsConfig,
    oncall: OnCallConfig | None,
    *,
    file: str = "",
) -> StoriesSettings:
    """Validate the tree against the targets and teams (ConfigError with every problem)."""
    enabled = tuple(t for t in targets if t.enabled)
    if route is not None and oncall is not None and oncall.routes:
        raise ConfigError(
            [
                ConfigIssue(
                    oncall.source_file,
                    None,
                    "routes",
                    "on-call routes moved to alerts.route in the main configuration "
                    "(路由已移到主配置 alerts.route，见 docs/alerts.zh.md)",
                )
            ]
        )
    tree = route if route is not None else legacy_route(enabled, oncall)
    teams = set(oncall.teams) if oncall is not None else set()
    problems = route_problems(tree, {t.name for t in targets}, teams)
    if problems:
        raise ConfigError([ConfigIssue(file, None, *p.split(": ", 1)) for p in problems])
    return StoriesSettings(RouteTree(tree), enabled, incidents, OnCall(oncall) if oncall else None)
