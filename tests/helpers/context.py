"""Pipeline contexts for tests: the same frozen context the runtime builds, from explicit parts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from monitor.findings import Analyzer
from monitor.ingest.analyse import AnalysisPool
from monitor.pipeline import PipelineContext
from monitor.storage.db import Database
from monitor.storage.models import utcnow
from monitor.stories.oncall_config import OnCallConfig
from monitor.stories.routes import RouteConfig
from monitor.stories.settings import StoriesSettings, build_settings
from monitor.targets import TargetConfig
from monitor.tickets.incident_settings import IncidentsConfig
from monitor.tickets.thread_settings import TicketsConfig


def settings(
    targets: Sequence[TargetConfig],
    *,
    incidents: IncidentsConfig | None = None,
    route: RouteConfig | dict[str, Any] | None = None,
    oncall: OnCallConfig | dict[str, Any] | None = None,
) -> StoriesSettings:
    if isinstance(route, dict):
        route = RouteConfig.model_validate(route)
    if isinstance(oncall, dict):
        oncall = OnCallConfig.model_validate(oncall)
    return build_settings(route, targets, incidents or IncidentsConfig(), oncall)


def context(
    db: Database,
    analyzer: Analyzer,
    targets: Sequence[TargetConfig] = (),
    *,
    incidents: IncidentsConfig | None = None,
    route: RouteConfig | dict[str, Any] | None = None,
    oncall: OnCallConfig | dict[str, Any] | None = None,
    stories: StoriesSettings | None = None,
    clock: Callable[[], datetime] | None = None,
    now: datetime | None = None,
    alerting: bool = True,
    tickets: TicketsConfig | None = None,
    pool: AnalysisPool | None = None,
) -> PipelineContext:
    """``now`` freezes the clock; ``clock`` injects one."""
    built = stories or settings(targets, incidents=incidents, route=route, oncall=oncall)
    tick = clock or ((lambda: now) if now is not None else utcnow)
    return PipelineContext(db, analyzer, built, tick, alerting, tickets or TicketsConfig(), pool)
