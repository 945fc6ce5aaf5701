"""The whole flow for one source, in one place.

``poll_source`` reads batches from a connector; ``process_batch`` analyses a batch, then - in ONE
transaction - stores its new messages and quarantine rows, assigns tickets, writes the outbox rows
the findings call for and advances the source's checkpoint. A crash anywhere rolls all of it back
and the batch is read again; storage deduplicates, so nothing is stored twice or lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from connectors.base import Connector
from monitor.alerts.outbox import enqueue_ticket_alerts
from monitor.alerts.paging import Paging, enqueue_incident_pages
from monitor.alerts.review import hold_for_review
from monitor.findings import Analysis, Analyzer
from monitor.ingest.store import get_or_create_source, save_checkpoint, store_messages, store_quarantined
from monitor.message import Batch, Checkpoint
from monitor.storage.db import Database
from monitor.storage.models import Source, utcnow
from monitor.targets import TargetConfig
from monitor.tickets.incidents import update_incidents
from monitor.tickets.service import assign_tickets
from monitor.tickets.thread_settings import TicketsConfig


@dataclass
class PollStats:
    """Counters for one poll (or one batch); logged as one summary event."""

    fetched: int = 0
    new: int = 0
    duplicates: int = 0
    quarantined: int = 0
    tickets: int = 0
    alerts: int = 0
    incidents: int = 0
    batches: int = 0
    duration_ms: int = 0
    new_ticket_codes: list[str] = field(default_factory=list)

    def add(self, other: PollStats) -> None:
        for name in (
            "fetched",
            "new",
            "duplicates",
            "quarantined",
            "tickets",
            "alerts",
            "incidents",
            "batches",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.new_ticket_codes.extend(other.new_ticket_codes)

    def summary(self) -> dict[str, Any]:
        return {
            "fetched": self.fetched,
            "new": self.new,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "tickets": self.tickets,
            "alerts": self.alerts,
            "incidents": self.incidents,
            "duration_ms": self.duration_ms,
        }


def load_checkpoint(db: Database, source_name: str) -> Checkpoint | None:
    with db.read() as session:
        value = session.scalar(select(Source.checkpoint).where(Source.name == source_name))
        return dict(value) if value else None


def process_batch(
    db: Database,
    source_name: str,
    source_kind: str,
    batch: Batch,
    analyzer: Analyzer,
    targets: Sequence[TargetConfig],
    *,
    advance_checkpoint: bool = True,
    paging: Paging | None = None,
    now: datetime | None = None,
    tickets: TicketsConfig | None = None,
) -> PollStats:
    """Store one batch exactly once (see module docstring).

    Messages whose analysis asks for review wait in the review queue (no ticket, incident or
    alert until approved); noise (bounces, auto-replies, list mail) is stored only. ``now`` is injectable for tests; escalation timers start from it.
    """
    analysed: list[tuple[Any, Analysis]] = [(m, analyzer(m)) for m in batch.messages]
    stats = PollStats(fetched=len(batch.messages), batches=1)
    paging = paging or Paging(tuple(targets))
    now = now or utcnow()
    with db.transaction() as session:
        source = get_or_create_source(session, source_name, source_kind)
        stored, stats.duplicates = store_messages(session, source, analysed)
        stats.new = len(stored)
        stats.quarantined = store_quarantined(session, source, batch.quarantined)
        # machine mail (bounces, auto-replies, list traffic) is stored but never ticketed or paged
        new = [item for item in hold_for_review(session, stored) if not item.message.noise]
        changes = assign_tickets(session, source, new, settings=tickets)
        stats.tickets = sum(1 for c in changes if c.created)
        stats.new_ticket_codes = [c.ticket.code for c in changes if c.created and c.ticket.code]
        stats.alerts = enqueue_ticket_alerts(session, source, changes, targets)
        incidents = update_incidents(session, new, paging.incidents, now=now)
        stats.incidents = sum(1 for c in incidents if c.kind == "opened")
        stats.alerts += enqueue_incident_pages(session, incidents, paging, now=now)
        if advance_checkpoint:
            save_checkpoint(source, batch.checkpoint)
    return stats


def poll_source(
    db: Database,
    source_name: str,
    connector: Connector[Any],
    analyzer: Callable[[], Analyzer],
    targets: Callable[[], Sequence[TargetConfig]],
    *,
    batch_size: int = 500,
    stop: threading.Event | None = None,
    on_batch: Callable[[PollStats], None] | None = None,
    paging: Callable[[], Paging] | None = None,
    tickets: TicketsConfig | None = None,
) -> PollStats:
    """Read everything new from a source, batch by batch; stop between batches when asked.

    ``analyzer`` and ``targets`` are called per batch so that a configuration or rule reload
    applies from the next batch on, and never in the middle of one.
    """
    started = time.monotonic()
    total = PollStats()
    checkpoint = load_checkpoint(db, source_name)
    batches = connector.fetch(checkpoint, batch_size=batch_size, stop=stop)
    try:
        for batch in batches:
            if not len(batch) and batch.checkpoint == checkpoint:
                continue
            stats = process_batch(
                db,
                source_name,
                connector.kind,
                batch,
                analyzer(),
                targets(),
                paging=paging() if paging is not None else None,
                tickets=tickets,
            )
            checkpoint = batch.checkpoint
            connector.after_commit(batch)
            total.add(stats)
            if on_batch is not None:
                on_batch(stats)
            if stop is not None and stop.is_set():
                break
    finally:
        close = getattr(batches, "close", None)
        if callable(close):
            close()
    total.duration_ms = int((time.monotonic() - started) * 1000)
    return total
