"""The whole flow for one source, in one place.

``poll_source`` reads batches from a connector; ``process_batch`` analyses a batch, then - in ONE
transaction - stores its new messages and quarantine rows, assigns tickets, clusters posts and
opens incidents, opens or grows stories (``monitor.stories``) and writes the notifications that
are due now, and advances the source's checkpoint. A crash anywhere rolls all of it back and the
batch is read again; storage deduplicates, so nothing is stored twice or lost.

With analysis workers (``analysis.workers`` > 1) ``poll_source`` reads one batch ahead: the next
batch is handed to the workers before this one is stored, so analysis and storage overlap. The
look-ahead batch is only analysed; it is stored (and its checkpoint saved) after this one, exactly
as without workers, and a crash or stop in between reads it again.

Everything configurable comes in one frozen :class:`PipelineContext`, built by the runtime
(``monitor.runtime.build_context``): no defaults here that would let a caller bypass the
configuration (incident settings, routes).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import Connector
from connectors.reposts import PostKeys
from monitor.feedback.surveys import mark_survey_tickets, take_survey_replies
from monitor.findings import Analysis, Analyzer
from monitor.ingest.analyse import AnalysisPool, PendingAnalysis
from monitor.ingest.bisect import process_resilient
from monitor.ingest.store import (
    get_or_create_source,
    known_ids,
    message_keys,
    save_checkpoint,
    store_messages,
    store_quarantined,
)
from monitor.intake.customer import declare_approved
from monitor.leases import Fence, check_fence
from monitor.message import Batch, Checkpoint, Message
from monitor.metrics import Metrics
from monitor.storage.db import Database
from monitor.storage.models import Source
from monitor.stored import NewMessage
from monitor.stories.notify import notify_due
from monitor.stories.observe import observe
from monitor.stories.review import hold_for_review, release
from monitor.stories.settings import StoriesSettings
from monitor.tickets.fingerprint import Fingerprint
from monitor.tickets.incidents import post_fingerprint, remember_fingerprints, update_incidents
from monitor.tickets.routing import apply_routing
from monitor.tickets.service import assign_tickets
from monitor.tickets.thread_settings import TicketsConfig


@dataclass(frozen=True)
class PipelineContext:
    """Everything one batch needs, built once per configuration (and rule reload) by the runtime."""

    db: Database
    analyzer: Analyzer
    stories: StoriesSettings
    clock: Callable[[], datetime]
    alerting: bool
    """False for history imports (``yuqing import`` without ``--alert``): no story, no notice."""
    tickets: TicketsConfig
    """How messages find their ticket (subject window; ``docs/threading.md``)."""
    pool: AnalysisPool | None
    """Analysis worker processes (``analysis.workers`` > 1), owned by the runtime; None: in-process."""
    metrics: Metrics | None = None
    """Counters of the daemon (``monitor.metrics``); None: nothing is counted."""


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


def flow(
    session: Session, context: PipelineContext, source: Source, new: Sequence[NewMessage], now: datetime
) -> PollStats:
    """Tickets -> clusters and incidents -> stories -> notifications due now, for messages that
    were just stored (or just approved from the review queue)."""
    stats = PollStats()
    new, replies = take_survey_replies(session, new, now)  # survey answers and opt-outs
    changes = assign_tickets(session, source, new, settings=context.tickets)
    if replies.negative:  # dissatisfied answers: tickets on the survey SLA profile
        mark_survey_tickets(session, changes, replies, now)
    apply_routing(session, [c.ticket for c in changes if c.created], context.tickets.routing)
    stats.tickets = sum(1 for c in changes if c.created)
    stats.new_ticket_codes = [c.ticket.code for c in changes if c.created and c.ticket.code]
    incidents = update_incidents(session, new, context.stories.incidents, now=now)
    stats.incidents = sum(1 for c in incidents.changes if c.kind == "opened")
    if not context.alerting:
        return stats
    touched = observe(session, context.stories, changes, incidents.changes, incidents.clusters, now)
    stats.alerts += notify_due(session, context.stories, now, only=touched)  # group_wait 0: now
    return stats


def process_batch(
    context: PipelineContext,
    source_name: str,
    source_kind: str,
    batch: Batch,
    *,
    advance_checkpoint: bool = True,
    fence: Fence | None = None,
    within: Callable[[Session, Sequence[NewMessage]], None] | None = None,
    prepared: Prepared | None = None,
    urgent: bool = False,
) -> PollStats:
    """Store one batch exactly once (see module docstring).

    ``fence``: the source's lease when several instances share the database; checked (and
    renewed) as the transaction's last statement, so a stale instance commits nothing.
    ``within`` runs inside the batch's transaction, before the fence check, with the messages this
    batch stored (their rows carry the ticket ids just assigned; held ones none): the intake writes
    its submission and attachment rows there, so a message never exists without them, nor they
    without it. ``urgent``: this transaction goes before waiting poll batches of this process (a
    request is waiting for it; :meth:`monitor.storage.db.Database.transaction`).

    Messages whose analysis asks for review wait in the review queue (no ticket, incident or
    page until approved; an L1/L2 one sends a review notice); noise (bounces, auto-replies, list
    mail) is stored only. ``prepared``: this batch's analysis, started earlier (:func:`prepare`).
    """
    if prepared is None or prepared.batch is not batch:
        prepared = prepare(context, source_name, batch)
    analysed, known = prepared.analysed()
    if context.metrics is not None and analysed and prepared.seconds is not None:
        context.metrics.analysis(source_name, prepared.seconds)
    now = context.clock()
    with context.db.transaction(urgent=urgent) as session:
        source = get_or_create_source(session, source_name, source_kind)
        stored, duplicates = store_messages(session, source, analysed, keys=prepared.keys)
        duplicates += known
        quarantined = store_quarantined(session, source, batch.quarantined)
        flowing, reviews = hold_for_review(session, context.stories, stored, notify=context.alerting)
        # machine mail (bounces, auto-replies, list traffic) is stored but never ticketed or paged
        new = [item for item in flowing if not item.message.noise]
        stats = flow(session, context, source, new, now)
        stats.alerts += reviews
        if within is not None:
            within(session, stored)
        if advance_checkpoint:
            save_checkpoint(source, batch.checkpoint, session=session, fence=fence)
        elif fence is not None:
            check_fence(session, fence)
    stats.fetched, stats.batches = len(batch.messages), 1
    stats.new, stats.duplicates, stats.quarantined = len(stored), duplicates, quarantined
    if context.metrics is not None:  # counted once committed
        context.metrics.batch(
            source_name, stored=stats.new, duplicates=duplicates, quarantined=quarantined, tickets=stats.tickets
        )
    return stats


@dataclass
class Prepared:
    """A batch whose unknown messages are being analysed (in the workers, or already in-process)."""

    batch: Batch
    todo: list[Message]
    known: int
    pending: PendingAnalysis | None = None
    done: list[Analysis] | None = None
    seconds: float | None = None  # analysis time: in-process, or from hand-over to the workers' result
    started: float = field(default_factory=time.perf_counter)
    keys: dict[str, PostKeys] | None = None  # the rows' repost keys, by external id, from the workers

    def analysed(self) -> tuple[list[tuple[Message, Analysis]], int]:
        """The batch's unknown messages with their analyses (waits for the workers), and how many
        messages were skipped as already stored."""
        if self.done is None:
            assert self.pending is not None
            self.done = self.pending.result()
            self.seconds = time.perf_counter() - self.started
            if self.pending.extras is not None:  # fingerprints and repost keys the workers computed
                remember_fingerprints(self.todo, [fingerprint for fingerprint, _keys in self.pending.extras])
                self.keys = {m.external_id: keys for m, (_print, keys) in zip(self.todo, self.pending.extras, strict=True)}
        return list(zip(self.todo, self.done, strict=True)), self.known

    def cancel(self) -> None:
        if self.pending is not None and self.done is None:
            self.pending.cancel()


def analyse_one(context: PipelineContext, message: Message) -> tuple[Analysis, float]:
    """One message's analysis (and its clustering fingerprint, remembered for the batch that
    stores it), in the caller's thread, or in the workers when there are some; with the seconds it
    took. The intake analyses each submission in its request thread this way, while the writer is
    busy with the previous group, and hands :func:`analysed` batches to :func:`process_batch`."""
    started = time.perf_counter()
    if context.pool is not None:
        pending = context.pool.submit(context.analyzer, [message], post_fingerprint)
        analysis = pending.result()[0]
        if pending.extras is not None:
            remember_fingerprints([message], pending.extras)
    else:
        analysis = context.analyzer(message)
        post_fingerprint(message)  # kept among the recent fingerprints, for cluster_messages
    return analysis, time.perf_counter() - started


def analysed(batch: Batch, analyses: Sequence[Analysis], seconds: float) -> Prepared:
    """A batch whose messages were analysed already (:func:`analyse_one`), in batch order. No
    stored-ids lookup: storage deduplicates inside the transaction; a repeated external id in the
    batch is analysed and stored once, as :func:`prepare` does."""
    todo: dict[str, tuple[Message, Analysis]] = {}
    for message, analysis in zip(batch.messages, analyses, strict=True):
        todo.setdefault(message.external_id, (message, analysis))
    skipped = len(batch.messages) - len(todo)
    return Prepared(
        batch, [m for m, _ in todo.values()], skipped, done=[a for _, a in todo.values()], seconds=seconds
    )


def prepare(context: PipelineContext, source_name: str, batch: Batch) -> Prepared:
    """Look up which messages are stored already and start analysing the others (only those, and
    each external id once). Storage deduplicates again inside the batch transaction, so a message
    stored meanwhile (by the batch before, or another process) is still stored once."""
    messages = batch.messages
    if not messages:
        return Prepared(batch, [], 0, done=[])
    with context.db.read() as session:
        known = known_ids(session, source_name, [m.external_id for m in messages])
    fresh: dict[str, Message] = {}
    for message in messages:
        if message.external_id not in known:
            fresh.setdefault(message.external_id, message)
    todo = list(fresh.values())
    skipped = len(messages) - len(todo)
    if context.pool is None or not todo:
        started = time.perf_counter()
        done = [context.analyzer(m) for m in todo]
        return Prepared(batch, todo, skipped, done=done, seconds=time.perf_counter() - started)
    return Prepared(batch, todo, skipped, context.pool.submit(context.analyzer, todo, worker_extra))


def worker_extra(message: Message) -> tuple[Fingerprint | None, PostKeys]:
    """What the analysis workers compute next to a polled message's analysis, so that the storing
    process does not: its clustering fingerprint and its row's repost keys (NFKC and digests of
    the text: ~0.1 ms for a long mail)."""
    return post_fingerprint(message), message_keys(message)


def known_lookup(
    context: Callable[[], PipelineContext], source_name: str
) -> Callable[[list[str]], list[str]]:
    """For connectors that can skip stored mail on a resync (IMAP ``use_known_ids``)."""

    def lookup(external_ids: list[str]) -> list[str]:
        with context().db.read() as session:
            return sorted(known_ids(session, source_name, external_ids))

    return lookup


def decide_review(context: PipelineContext, message_id: int, *, approve: bool) -> str:
    """Approve (the same flow as a new message: ticket, incident, story) or reject one message."""
    with context.db.transaction() as session:
        released = release(session, message_id, approve=approve)
        if released is None:
            return "rejected"
        source, item = released
        flow(session, context, source, [item], context.clock())
        declare_approved(session, [item.row.id])  # a submission's ticket: the customer's own fields
        return "approved"


def _store(
    context: PipelineContext,
    source_name: str,
    source_kind: str,
    fence: Fence | None,
    prepared: Prepared | None,
    batch: Batch,
    advance: bool,
) -> PollStats:
    return process_batch(
        context, source_name, source_kind, batch, advance_checkpoint=advance, fence=fence, prepared=prepared
    )


def poll_source(
    context: Callable[[], PipelineContext],
    source_name: str,
    connector: Connector[Any],
    *,
    batch_size: int = 500,
    stop: threading.Event | None = None,
    on_batch: Callable[[PollStats], None] | None = None,
    fence: Fence | None = None,
) -> PollStats:
    """Read everything new from a source, batch by batch; stop between batches when asked.

    With a ``fence`` (the source's lease) every batch transaction checks it; a lost lease raises
    ``monitor.leases.LeaseLost`` and the batch is left to the instance that took over.

    ``context`` is called per batch so that a configuration or rule reload applies from the next
    batch on, and never in the middle of one. With analysis workers the next batch is read and
    handed to them before this one is stored (module docstring).
    """
    started = time.monotonic()
    total = PollStats()
    checkpoint = load_checkpoint(context().db, source_name)
    use_known = getattr(connector, "use_known_ids", None)
    if callable(use_known):  # a resync fetches headers first and skips the bodies of stored mail
        use_known(known_lookup(context, source_name))
    batches = connector.fetch(checkpoint, batch_size=batch_size, stop=stop)
    ahead: tuple[Batch, PipelineContext, Prepared | None] | None = None
    try:
        upcoming = _ahead(batches, context, source_name, checkpoint)
        ahead = next(upcoming, None)
        while ahead is not None:
            batch, current, prepared = ahead
            ahead, failed = None, None
            if current.pool is not None:  # the workers analyse the next batch while this one is stored
                try:
                    ahead = next(upcoming, None)
                except Exception as exc:  # the source failed reading ahead: store this batch first
                    failed = exc
            store = functools.partial(_store, current, source_name, connector.kind, fence, prepared)
            parts, stored = process_resilient(store, batch, source=source_name)
            stats = PollStats()
            for part in parts:
                stats.add(part)
            connector.after_commit(stored)
            total.add(stats)
            if on_batch is not None:
                on_batch(stats)
            if failed is not None:
                raise failed
            if stop is not None and stop.is_set():
                break
            if ahead is None and current.pool is None:
                ahead = next(upcoming, None)
    finally:
        if ahead is not None and ahead[2] is not None:
            ahead[2].cancel()  # read ahead but not stored: read again next time
        close = getattr(batches, "close", None)
        if callable(close):
            close()
    total.duration_ms = int((time.monotonic() - started) * 1000)
    return total


def _ahead(
    batches: Iterator[Batch],
    context: Callable[[], PipelineContext],
    source_name: str,
    checkpoint: Checkpoint | None,
) -> Iterator[tuple[Batch, PipelineContext, Prepared | None]]:
    """The batches worth storing, each with the context it is stored under and, with workers, its
    analysis already started."""
    for batch in batches:
        if not len(batch) and batch.checkpoint == checkpoint:
            continue
        checkpoint = batch.checkpoint
        current = context()
        yield batch, current, prepare(current, source_name, batch) if current.pool is not None else None
