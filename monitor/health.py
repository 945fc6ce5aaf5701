"""The daemon's health, as the HTTP endpoints (``monitor.http.health``) ask for it.

:class:`SourceHealth` is the daemon's view of one source (failures, backoff, disabled-by-auth,
last success and error); :class:`DaemonHealth` turns it, the scheduler's progress and the
database's state into liveness and readiness reports, and owns the metrics registry's
scrape-time collector (``monitor.health_metrics``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from sqlalchemy import text

from monitor.health_metrics import DatabaseCollector
from monitor.http.health_checks import Check, HealthReport
from monitor.storage.models import SourceHealthRow

if TYPE_CHECKING:
    from monitor.runtime import Runtime


@dataclass
class SourceHealth:
    failures: int = 0
    not_before: float = 0.0
    disabled: str | None = None
    failing_since: float | None = None  # monotonic time of the first failure of this episode
    episode: str = ""  # wall-clock start of the episode, for the operator
    last_success: datetime | None = None
    last_success_mono: float | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    probes: int = 0  # re-probes of a source disabled by an authentication failure
    failing_since_at: datetime | None = None  # wall clock of ``failing_since``
    last_attempt: datetime | None = None
    saved: float | None = None  # monotonic time the row in ``source_health`` was last written
    last_new_mono: float | None = None  # monotonic time a poll last stored a new message
    parts_since: dict[str, float] = field(default_factory=dict)  # failing feed/route -> first failure
    last_new_at: datetime | None = None  # wall clock of ``last_new_mono`` (kept in ``source_health``)


def _mono(at: datetime | None, now: datetime, mono: float) -> float | None:
    """The monotonic reading that corresponds to wall-clock ``at`` (never in the future)."""
    return None if at is None else mono - max(0.0, (now - at).total_seconds())


def restore(row: SourceHealthRow, *, now: datetime, mono: float) -> SourceHealth:
    """A source's health as its ``source_health`` row kept it (written before a restart, or by
    the instance that polled it before a takeover): the clocks of the stuck alert, the silence
    watch and ``/readyz`` go on from there instead of from this process's start. A source paused
    by rejected credentials stays paused and is re-probed at once (the fix may be why we restarted)."""
    failing = bool(row.failures or row.disabled_reason) and row.failing_since is not None
    return SourceHealth(
        failures=row.failures,
        disabled=row.disabled_reason,
        failing_since=_mono(row.failing_since, now, mono) if failing else None,
        failing_since_at=row.failing_since if failing else None,
        episode=row.failing_since.isoformat() if failing and row.failing_since else "",
        last_success=row.last_success_at,
        last_success_mono=_mono(row.last_success_at, now, mono),
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        last_attempt=row.last_attempt_at,
        last_new_at=row.last_new_at,
        last_new_mono=_mono(row.last_new_at, now, mono),
    )


def _age(seconds: float) -> str:
    return f"{seconds:.0f}s"


class DaemonHealth:
    """Liveness, readiness and metrics of one daemon; every answer is computed when asked."""

    def __init__(
        self,
        runtime: Callable[[], Runtime],
        sources: Callable[[], Mapping[str, SourceHealth]],
        progress: Callable[[], float | None],
        *,
        started: float,
        elsewhere: Callable[[], Mapping[str, str]] = dict,
    ) -> None:
        self._runtime = runtime
        self._sources = sources
        self._elsewhere = elsewhere  # source -> the live instance that holds its lease (not us)
        self._progress = progress  # monotonic time the scheduler last ran its heartbeat job
        self._started = started
        self._head: str | None = None
        self.collector = DatabaseCollector(runtime, sources, started=started, elsewhere=elsewhere)
        runtime().metrics.registry.register(self.collector)

    @property
    def registry(self) -> CollectorRegistry:
        return self._runtime().metrics.registry

    def liveness(self) -> HealthReport:
        config = self._runtime().config.scheduler
        last = self._progress()
        now = time.monotonic()
        limit = config.heartbeat_seconds * 3 + config.ready_slack_seconds
        since = now - (last if last is not None else self._started)
        ok = since <= limit
        detail = f"scheduler ran {_age(since)} ago" + ("" if ok else f" (limit {_age(limit)}): hung?")
        return HealthReport([Check("scheduler", ok, detail)])

    def readiness(self) -> HealthReport:
        checks = [*self._database(), *self._source_checks()]
        return HealthReport(checks)

    def _database(self) -> list[Check]:
        db = self._runtime().db
        try:
            if self._head is None:
                known = db.revisions()
                self._head = known[-1] if known else None
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                try:  # read the table, not through Alembic: no migration context per probe
                    current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                except Exception:
                    current = None
        except Exception as exc:
            return [Check("database", False, f"unreachable: {type(exc).__name__}")]
        schema_ok = current == self._head
        return [
            Check("database", True, "reachable"),
            Check("schema", schema_ok, f"at {current}" + ("" if schema_ok else f", code expects {self._head}")),
        ]

    def _source_checks(self) -> list[Check]:
        runtime = self._runtime()
        slack = runtime.config.scheduler.ready_slack_seconds
        now = time.monotonic()
        states = self._sources()
        elsewhere = self._elsewhere()
        checks = []
        for source in runtime.config.sources:
            if not source.enabled or source.name not in runtime.connectors:
                continue
            state = states.get(source.name) or SourceHealth()
            name = f"source:{source.name}"
            if source.name in elsewhere:  # that instance's /readyz answers for it
                checks.append(Check(name, True, f"polled by instance {elsewhere[source.name]}"))
                continue
            if state.disabled:
                checks.append(Check(name, False, f"disabled: {state.disabled}"))
                continue
            reference = state.last_success_mono  # else: failing since (before a restart, too) or started
            if reference is None:
                reference = state.failing_since if state.failing_since is not None else self._started
            age = now - reference
            limit = 2 * source.interval_seconds + slack
            if age <= limit:
                checks.append(Check(name, True, f"polled {_age(age)} ago"))
                continue
            never = " (never since start)" if state.last_success_mono is None else ""
            error = f"; last error: {state.last_error}" if state.last_error else ""
            checks.append(
                Check(name, False, f"no successful poll for {_age(age)}{never}, limit {_age(limit)}{error}")
            )
        return checks
