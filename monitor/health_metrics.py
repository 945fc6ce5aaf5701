"""Gauges read at scrape time: outbox depth and age, quarantine, incident and story states, sources.

Each scrape runs a handful of small indexed queries (``alerts`` by status, ``incidents`` and
``stories`` by state) instead of keeping counters that drift from the database - the database is
the truth, and another instance may have changed it. A database that does not answer yields
``yuqing_database_up 0`` and the in-memory source gauges only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from monitor.storage.health_state import outbox_state
from monitor.storage.models import Incident, QuarantineItem, Story, utcnow

if TYPE_CHECKING:
    from monitor.health import SourceHealth
    from monitor.runtime import Runtime


ACTIVE = ("open", "acknowledged")


class DatabaseCollector(Collector):
    def __init__(
        self,
        runtime: Callable[[], Runtime],
        sources: Callable[[], Mapping[str, SourceHealth]],
        *,
        started: float,
        elsewhere: Callable[[], Mapping[str, str]] = dict,
    ) -> None:
        self._runtime = runtime
        self._sources = sources
        self._started = started  # monotonic start of the daemon: the lag of a source never polled
        self._elsewhere = elsewhere  # sources another live instance polls: its /metrics has them

    def describe(self) -> list[Any]:
        return []  # no queries at registration time

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._source_gauges()
        up = GaugeMetricFamily("yuqing_database_up", "1 when the database answered this scrape")
        try:
            families = self._database_gauges()
        except Exception:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _database_gauges(self) -> list[GaugeMetricFamily]:
        now = utcnow()
        with self._runtime().db.read() as session:
            depth, oldest = outbox_state(session)
            quarantined = session.scalar(
                select(func.count()).select_from(QuarantineItem).where(QuarantineItem.status == "pending")
            )
            # active states only: resolved rows grow forever; these read the state indexes' open ranges
            incidents = session.execute(
                select(Incident.state, func.count()).where(Incident.state.in_(ACTIVE)).group_by(Incident.state)
            ).all()
            stories = session.execute(
                select(Story.kind, Story.state, func.count())
                .where(Story.state.in_(ACTIVE))
                .group_by(Story.kind, Story.state)
            ).all()
        out_depth = GaugeMetricFamily("yuqing_outbox_depth", "Notifications waiting to be sent (pending rows)")
        out_depth.add_metric([], depth)
        out_age = GaugeMetricFamily(
            "yuqing_outbox_oldest_age_seconds", "Age of the oldest pending notification (0 when none)"
        )
        out_age.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)
        quarantine = GaugeMetricFamily("yuqing_quarantine_pending", "Quarantined records not yet retried or discarded")
        quarantine.add_metric([], quarantined or 0)
        incident = GaugeMetricFamily("yuqing_incidents", "Active incidents by state (open/acknowledged)", labels=["state"])
        for state, count in incidents:
            incident.add_metric([state], count)
        story = GaugeMetricFamily(
            "yuqing_stories", "Active stories by kind and state (open/acknowledged)", labels=["kind", "state"]
        )
        for kind, state, count in stories:
            story.add_metric([kind, state], count)
        return [out_depth, out_age, quarantine, incident, story]

    def _source_gauges(self) -> Iterator[GaugeMetricFamily]:
        runtime = self._runtime()
        states = self._sources()
        now_mono = time.monotonic()
        last = GaugeMetricFamily(
            "yuqing_source_last_success_timestamp_seconds", "Unix time of the last successful poll", labels=["source"]
        )
        lag = GaugeMetricFamily(
            "yuqing_source_lag_seconds", "Seconds since the last successful poll (since start if none)", labels=["source"]
        )
        failures = GaugeMetricFamily("yuqing_source_failures", "Consecutive failed polls", labels=["source"])
        disabled = GaugeMetricFamily(
            "yuqing_source_disabled", "1 while a source is disabled (credentials rejected)", labels=["source"]
        )
        elsewhere = self._elsewhere()
        for source in runtime.config.sources:
            if not source.enabled or source.name in elsewhere:
                continue
            state = states.get(source.name)
            name = [source.name]
            if state is not None and state.last_success is not None and state.last_success_mono is not None:
                last.add_metric(name, state.last_success.timestamp())
                lag.add_metric(name, now_mono - state.last_success_mono)
            else:
                lag.add_metric(name, now_mono - self._started)
            failures.add_metric(name, state.failures if state else 0)
            disabled.add_metric(name, 1 if state is not None and state.disabled else 0)
        yield from (last, lag, failures, disabled)
