"""In-process metrics: a small typed facade over ``prometheus_client`` counters and histograms.

The pipeline, the daemon and the outbox call the methods of :class:`Metrics`; nothing else in
the tree touches ``prometheus_client``. Each :class:`Metrics` owns its
:class:`~prometheus_client.CollectorRegistry` (never the process-global one), so two daemons in
one process (tests) or a reload do not mix or lose counts: the daemon keeps one instance for its
whole life and hands it to every runtime it builds. Gauges that live in the database (outbox
depth, incident states, source health) are read at scrape time by a collector registered on the
same registry (``monitor.health``).

A leaf module: every layer may import it.
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector

PollOutcome = Literal["ok", "failed", "auth"]
SendOutcome = Literal["sent", "retry", "failed"]

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class Metrics:
    """The counters and histograms of one daemon (or CLI run), registered on its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        if registry is None:
            ProcessCollector(registry=r)  # process_* (memory, CPU, open files) of this process
        self._messages = Counter(
            "yuqing_messages", "Messages read from a source, by outcome (stored/duplicate/quarantined)",
            ["source", "outcome"], registry=r,
        )
        self._polls = Counter(
            "yuqing_polls", "Polls of a source, by outcome (ok/failed/auth)", ["source", "outcome"], registry=r
        )
        self._poll_seconds = Histogram(
            "yuqing_poll_duration_seconds", "Wall time of one poll of a source", ["source"],
            buckets=_SECONDS, registry=r,
        )
        self._analysis_seconds = Histogram(
            "yuqing_analysis_seconds", "Analysis time of one batch (new messages only)", ["source"],
            buckets=_SECONDS, registry=r,
        )
        self._tickets = Counter("yuqing_tickets_created", "Tickets created", ["source"], registry=r)
        self._notifications = Counter(
            "yuqing_notifications", "Notification sends, by notice kind (route), target and outcome",
            ["route", "target", "outcome"], registry=r,
        )

    def batch(self, source: str, *, stored: int, duplicates: int, quarantined: int, tickets: int) -> None:
        """One committed batch of ``source``."""
        for outcome, count in (("stored", stored), ("duplicate", duplicates), ("quarantined", quarantined)):
            if count:
                self._messages.labels(source, outcome).inc(count)
        if tickets:
            self._tickets.labels(source).inc(tickets)

    def analysis(self, source: str, seconds: float) -> None:
        self._analysis_seconds.labels(source).observe(seconds)

    def poll(self, source: str, seconds: float, outcome: PollOutcome) -> None:
        self._polls.labels(source, outcome).inc()
        self._poll_seconds.labels(source).observe(seconds)

    def notification(self, route: str, target: str, outcome: SendOutcome) -> None:
        self._notifications.labels(route, target, outcome).inc()

    def value(self, name: str, labels: dict[str, str]) -> float:
        """The current value of one sample (tests and ``yuqing status``); 0 when absent."""
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else float(found)
