"""The outbox, delivery half: pending ``alerts`` rows are claimed and sent by the senders.

The queue half - notices written as rows in the transaction that decided them - is
``monitor.stories.queue``.

Delivery claims a row by pushing its ``next_attempt_at`` forward (a lease) in a conditional
UPDATE, so two delivery loops - threads or daemon instances sharing a database - never send the
same row at the same time. On PostgreSQL and MariaDB the claim reads its rows with
``SELECT ... FOR UPDATE SKIP LOCKED``: an instance passes over the rows another is claiming at
that moment instead of queueing behind its lock (SQLite serialises writers anyway). A crash after the send but before the row is marked sent leaves the
lease to expire and the row is sent again (at-least-once); senders that can, such as the JSONL
file, recognise the repeated alert id.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from monitor.alerts.lanes import Delivered, Lanes
from monitor.alerts.links import LinkSigner, personal_links
from monitor.alerts.masking import mask_personal_data
from monitor.alerts.noise import Action, Window, decide
from monitor.alerts.senders.base import Outcome, Sender, SendResult
from monitor.alerts.shaping import ensure_target_rows, fold, hour_window, lock_targets, promote_due_summaries
from monitor.metrics import Metrics, SendOutcome
from monitor.netpolicy import backoff
from monitor.storage.db import Database
from monitor.storage.models import Alert, utcnow
from monitor.targets import NoiseConfig, TargetConfig

log = structlog.get_logger("yuqing.alerts")
LEASE = timedelta(seconds=30)
SKIP_LOCKED = ("postgresql", "mysql", "mariadb")  # dialects whose claim reads lock with SKIP LOCKED
LINKED = ("ticket", "incident", "sla")  # notices that carry acknowledge/resolve links


class DeliveryConfig(Protocol):
    """What delivery needs from ``alerts:`` (``monitor.config.AlertsConfig`` has it)."""

    @property
    def targets(self) -> Sequence[TargetConfig]: ...
    @property
    def max_attempts(self) -> int: ...
    @property
    def retry_base_seconds(self) -> float: ...
    @property
    def retry_max_seconds(self) -> float: ...


def _mask(item: dict[str, Any]) -> dict[str, Any]:
    for key in ("excerpt", "title", "author"):
        if isinstance(item.get(key), str):
            item[key] = mask_personal_data(item[key])
    return item


@dataclass
class DeliveryStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0

    def count(self, done: Sequence[Delivered]) -> None:
        for item in done:
            if item.status == "sent":
                self.sent += 1
            elif item.status == "failed":
                self.failed += 1
            else:
                self.retried += 1


class _Heads:
    """Which rows read with SKIP LOCKED are their target's oldest due row.

    When an older row of a target is locked by another instance's claim, the target waits for
    that claim (one send per target at a time, in order) instead of sending a younger row. A row
    folded into a summary in this transaction makes the target's next row its head.
    """

    def __init__(self, session: Session, rows: Sequence[Alert], now: datetime) -> None:
        self.session = session
        self.now = now
        self.oldest = self._oldest(sorted({r.target for r in rows}))

    def _oldest(self, targets: Sequence[str]) -> dict[str, int]:
        if not targets:
            return {}
        query = (
            select(Alert.target, func.min(Alert.id))
            .where(Alert.status == "pending", Alert.next_attempt_at <= self.now, Alert.target.in_(targets))
            .group_by(Alert.target)
        )
        return {target: first for target, first in self.session.execute(query)}

    def first(self, row: Alert) -> bool:
        if row.target not in self.oldest:
            self.oldest.update(self._oldest([row.target]))
        return self.oldest.get(row.target) == row.id

    def folded(self, target: str) -> None:
        self.oldest.pop(target, None)  # read again (this transaction's fold included) when needed


class Outbox:
    """Delivers pending alert rows through the configured senders, each target on its own lane.

    One **cycle** is one transaction: record the outcomes of the sends that finished, apply noise
    control (``monitor.alerts.shaping``) under the noisy targets' lock rows, and claim the oldest
    due row of every target that has no send in flight (one conditional UPDATE, the lease). Each
    claimed row is sent on its target's lane (``monitor.alerts.lanes``) outside any transaction,
    so a receiver hanging until its read timeout delays only its own target; the outcome is
    recorded before that target's next row is claimed. A target's alerts thus go out in order,
    one at a time, and a crash re-sends at most the one alert per target whose send was in
    flight or not yet recorded; it carries its idempotency key.
    """

    SCAN = 200  # due rows read per round of a claim

    def __init__(
        self,
        db: Database,
        senders: Mapping[str, Sender],
        config: DeliveryConfig,
        *,
        instance: str,
        links: LinkSigner | None = None,
        reaches: Callable[[], Mapping[str, Sequence[str]]] = dict,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.metrics = metrics
        self.links = links
        self.reaches = reaches  # on-call person id -> the targets that reach them (personal links)
        self.senders = dict(senders)
        self.config = config
        self.instance = instance
        self.noisy: dict[str, NoiseConfig] = {
            t.name: t for t in config.targets if t.enabled and t.active and t.name in self.senders
        }
        if self.noisy:
            ensure_target_rows(db, self.noisy)
        self.clock: Callable[[], datetime] = utcnow  # injectable for tests of quiet hours and caps
        self.lanes = Lanes()
        self._lock = threading.Lock()
        self._cycles = threading.Condition()
        self.cycles_started = 0
        self.cycles_done = 0
        self._wakes = 0  # wake() calls so far
        self._wakes_seen = 0  # the most wake() calls a committed (or failed) cycle had seen at its start

    def release_own_claims(self) -> int:
        """At start-up: rows this instance had claimed when it died are due again at once."""
        with self.db.transaction() as session:
            result = session.execute(
                update(Alert)
                .where(Alert.status == "pending", Alert.claimed_by == self.instance)
                .values(next_attempt_at=utcnow(), claimed_by=None)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def wake(self) -> int:
        """New rows were committed: the delivery loop runs a cycle now. Returns a number for
        :meth:`wait_for_wake`."""
        with self._cycles:
            self._wakes += 1
            number = self._wakes
        self.lanes.activity.set()
        return number

    # --- the cycle transaction -----------------------------------------------------------------
    def _claim(self, limit: int, done: Sequence[Delivered] = ()) -> list[Alert]:
        """One transaction: record ``done``, shape and claim up to ``limit`` rows (one per free target)."""
        with self._cycles:
            self.cycles_started += 1
            number, wakes = self.cycles_started, self._wakes
        try:
            now = self.clock()
            with self.db.transaction() as session:
                lock_targets(session, self.noisy)  # first statement: see the module docstring
                self._record(session, done, now)
                return self._claim_due(session, limit, now) if limit > 0 else []
        finally:
            with self._cycles:
                self.cycles_done = max(self.cycles_done, number)
                self._wakes_seen = max(self._wakes_seen, wakes)
                self._cycles.notify_all()

    def wait_for_cycle(self, number: int, timeout: float) -> bool:
        """Block until cycle ``number`` has committed (or failed), at most ``timeout`` seconds."""
        with self._cycles:
            return self._cycles.wait_for(lambda: self.cycles_done >= number, timeout)

    def wait_for_wake(self, number: int, timeout: float) -> bool:
        """Block until a cycle that began after ``wake()`` returned ``number`` has committed."""
        with self._cycles:
            return self._cycles.wait_for(lambda: self._wakes_seen >= number, timeout)

    def _record(self, session: Session, done: Sequence[Delivered], now: datetime) -> None:
        sent = [d.row_id for d in done if d.status == "sent"]
        if sent:
            session.execute(
                update(Alert)
                .where(Alert.id.in_(sent))
                .values(status="sent", sent_at=now, last_error=None, claimed_by=None)
                .execution_options(synchronize_session=False)
            )
        for item in done:
            if item.status != "sent":
                session.execute(
                    update(Alert)
                    .where(Alert.id == item.row_id)
                    .values(**item.values)
                    .execution_options(synchronize_session=False)
                )

    def _claim_due(self, session: Session, limit: int, now: datetime) -> list[Alert]:
        """The oldest due row of each target with nothing in flight here or in another instance."""
        windows: dict[str, Window] = {}
        if self.noisy:
            promote_due_summaries(session, self.noisy, windows, now)
        leased = select(Alert.target).where(
            Alert.status == "pending", Alert.claimed_by.is_not(None), Alert.next_attempt_at > now
        )
        skip = set(self.lanes.busy())
        keep: list[Alert] = []
        locking = session.get_bind().dialect.name in SKIP_LOCKED
        for _round in range(5):  # each round folds or keeps every row it reads: it makes progress
            query = select(Alert).where(
                Alert.status == "pending", Alert.next_attempt_at <= now, Alert.target.not_in(leased)
            )
            if skip:
                query = query.where(Alert.target.not_in(sorted(skip)))
            query = query.order_by(Alert.id).limit(self.SCAN)
            if locking:  # rows another instance is claiming right now are passed over, not waited for
                query = query.with_for_update(skip_locked=True)
            rows = list(session.scalars(query))
            heads = _Heads(session, rows, now) if locking else None
            for row in rows:
                if row.target in skip or len(keep) >= limit:
                    continue
                if heads is not None and not heads.first(row):
                    skip.add(row.target)  # its oldest row is being claimed by another instance
                elif self._shape(session, row, windows, now):
                    keep.append(row)
                    skip.add(row.target)
                elif heads is not None:
                    heads.folded(row.target)
            if len(rows) < self.SCAN or len(keep) >= limit:
                break
        if not keep:
            return []
        ids = [r.id for r in keep]
        session.execute(
            update(Alert)
            .where(Alert.id.in_(ids), Alert.status == "pending", Alert.next_attempt_at <= now)
            .values(
                next_attempt_at=now + self._lease({r.target for r in keep}),
                claimed_by=self.instance,
                attempts=Alert.attempts + 1,
                dispatched_at=func.coalesce(Alert.dispatched_at, now),
            )
            .execution_options(synchronize_session=False)  # row.attempts keeps the pre-claim count
        )
        mine = set(
            session.scalars(select(Alert.id).where(Alert.id.in_(ids), Alert.claimed_by == self.instance))
        )
        return [r for r in keep if r.id in mine]

    def _shape(self, session: Session, row: Alert, windows: dict[str, Window], now: datetime) -> bool:
        """Noise control for one row: True = send it now; False = it was folded into a summary."""
        config = self.noisy.get(row.target)
        if config is None or row.dispatched_at is not None:
            return True
        window = windows.get(row.target) or hour_window(session, row.target, now)
        decision = decide(config, priority=row.priority, kind=row.kind, now=now, window=window)
        if decision.action is Action.SEND or decision.due is None:
            windows[row.target] = window.plus_one(now)
            return True
        windows[row.target] = window
        fold(session, row, decision.action.value, decision.due, now)
        log.info("alert_held", alert=row.id, target=row.target, why=decision.why)
        return False

    def _lease(self, targets: set[str]) -> timedelta:
        """Long enough to cover the slowest of these targets' sends (its timeouts)."""
        longest = max((s.longest_send_seconds() for t in targets if (s := self.senders.get(t))), default=0.0)
        return max(LEASE, timedelta(seconds=longest + 10))

    # --- sending ------------------------------------------------------------------------------
    def _outgoing(self, row: Alert, sender: Sender) -> dict[str, Any]:
        payload = dict(row.payload)
        payload["id"] = row.id
        payload["target"] = row.target
        payload["idempotency_key"] = f"{row.dedupe_key}@{row.target}"
        code = payload.get("story")
        if self.links is not None and code and payload.get("kind") in LINKED:
            # from the row's creation time: a re-send after a crash is byte-identical
            payload = personal_links(payload, row.target, self.reaches(), self.links, row.created_at, code=str(code))
        if sender.group_chat:
            _mask(payload)
            for key in ("top", "items"):
                if key in payload:
                    payload[key] = [_mask(dict(t)) for t in payload[key] or []]
        return payload

    def _outcome(self, row: Alert, result: SendResult) -> Delivered:
        now = self.clock()
        attempts = row.attempts + 1
        values: dict[str, Any]
        if result.outcome is Outcome.OK:
            return Delivered(row.id, row.target, "sent", {})
        if result.outcome is Outcome.RETRY and attempts < self.config.max_attempts:
            delay = backoff(attempts - 1, base=self.config.retry_base_seconds, cap=self.config.retry_max_seconds)
            delay = max(delay, result.retry_after or 0)
            values = {
                "next_attempt_at": now + timedelta(seconds=delay),
                "last_error": result.detail,
                "claimed_by": None,
            }
            return Delivered(row.id, row.target, "retry", values)
        values = {"status": "failed", "last_error": result.detail or "gave up", "claimed_by": None}
        return Delivered(row.id, row.target, "failed", values)

    def deliver(
        self, *, limit: int = 200, stop: threading.Event | None = None, poll_seconds: float = 1.0
    ) -> DeliveryStats:
        """Send what is due, every target on its own lane; safe to call from several threads
        (one runs at a time). Returns when no send is in flight and nothing more is due (or
        ``limit`` rows were claimed and their sends ended), or at once when ``stop`` is set:
        sends still in flight are then recorded by the next call, or their rows released at the
        next start.

        While lanes are busy the loop waits for a lane to finish or :meth:`wake`, at most
        ``poll_seconds``, then runs the next cycle.
        """
        stats = DeliveryStats()
        if not self._lock.acquire(blocking=False):
            return stats
        try:
            claimed = 0
            while True:
                self.lanes.activity.clear()
                done = self.lanes.take_finished()
                stopping = (stop is not None and stop.is_set()) or claimed >= limit
                try:
                    rows = self._claim(0 if stopping else limit - claimed, done)
                except Exception:
                    self.lanes.give_back(done)
                    raise
                stats.count(done)
                claimed += len(rows)
                for row in rows:
                    self.lanes.start(row.target, row.id, functools.partial(self._deliver_one, row))
                if not self.lanes.in_flight() or (stop is not None and stop.is_set()):
                    return stats
                self.lanes.activity.wait(poll_seconds)
        finally:
            self._lock.release()

    def _deliver_one(self, row: Alert) -> Delivered:
        """On the target's lane: send one row, return its outcome (nothing is written here)."""
        sender = self.senders.get(row.target)
        if sender is None:
            result = SendResult(Outcome.FATAL, f"no enabled alert target named {row.target!r}")
        else:
            try:
                result = sender.send(self._outgoing(row, sender))
            except Exception as exc:
                log.exception("sender_crashed", target=row.target, alert=row.id)
                result = SendResult(Outcome.RETRY, f"sender error: {type(exc).__name__}: {exc}")
        delivered = self._outcome(row, result)
        if delivered.status == "failed":
            log.warning("alert_failed", alert=row.id, target=row.target, reason=result.detail)
        elif delivered.status == "retry":
            log.warning("alert_retry", alert=row.id, target=row.target, reason=result.detail)
        if self.metrics is not None:
            outcome: SendOutcome = "sent" if delivered.status == "sent" else (
                "failed" if delivered.status == "failed" else "retry"
            )
            self.metrics.notification(row.kind, row.target, outcome)
        return delivered
