"""The alert outbox: rows written in the finding's transaction, delivered by a sender job.

Delivery claims a row by pushing its ``next_attempt_at`` forward (a lease) in a conditional
UPDATE, so two delivery loops - threads or daemon instances sharing a database - never send the
same row at the same time. A crash after the send but before the row is marked sent leaves the
lease to expire and the row is sent again (at-least-once); senders that can, such as the JSONL
file, recognise the repeated alert id.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from monitor.alerts.masking import mask_personal_data
from monitor.alerts.senders.base import Outcome, Sender, SendResult
from monitor.analysis.findings import priority_rank
from monitor.config import AlertsConfig, TargetConfig
from monitor.storage.db import Database
from monitor.storage.models import Alert, Source, utcnow
from monitor.tickets.service import TicketChange

log = structlog.get_logger("yuqing.alerts")
LEASE = timedelta(seconds=30)
EXCERPT_CHARS = 280


def _payload(change: TicketChange, source: Source) -> dict[str, Any]:
    ticket = change.ticket
    trigger = next(
        (n for n in change.messages if n.analysis.alert and n.analysis.priority == ticket.priority),
        change.messages[0],
    )
    findings = [f for f in trigger.analysis.findings if f.alert]
    return {
        "kind": "ticket",
        "reason": "new ticket"
        if change.created
        else f"priority {change.old_priority or '-'} -> {ticket.priority}",
        "ticket": ticket.code,
        "priority": ticket.priority,
        "status": ticket.status,
        "source": source.name,
        "channel": ticket.channel,
        "title": ticket.title,
        "excerpt": trigger.message.text[:EXCERPT_CHARS],
        "author": trigger.message.author.display_name,
        "url": trigger.message.url,
        "message_id": trigger.row.id,
        "external_id": trigger.message.external_id,
        "created_at": trigger.message.created_at.isoformat(),
        "rules": [f.rule_id for f in findings],
        "keywords": sorted({m.keyword for f in findings for m in f.matches}),
    }


def enqueue_ticket_alerts(
    session: Session, source: Source, changes: Sequence[TicketChange], targets: Sequence[TargetConfig]
) -> int:
    """Write one outbox row per (ticket reaching a new alerting priority) x (target that wants it)."""
    count = 0
    for change in changes:
        ticket = change.ticket
        if not ticket.priority or not change.alerting or not (change.created or change.escalated):
            continue
        payload = _payload(change, source)
        for target in targets:
            if not target.enabled or priority_rank(ticket.priority) > priority_rank(target.min_priority):
                continue
            session.add(
                Alert(
                    dedupe_key=f"ticket:{ticket.id}:{ticket.priority}",
                    target=target.name,
                    kind="ticket",
                    priority=ticket.priority,
                    ticket_id=ticket.id,
                    message_id=payload["message_id"],
                    payload=payload,
                )
            )
            count += 1
    return count


def enqueue_operator_alert(db: Database, dedupe_key: str, text: str, targets: Sequence[TargetConfig]) -> None:
    """An alert for the operator (a source disabled, rules invalid); once per dedupe key."""
    with db.transaction() as session:
        for target in targets:
            if not target.enabled:
                continue
            exists = session.scalar(
                select(Alert.id).where(Alert.dedupe_key == dedupe_key, Alert.target == target.name)
            )
            if exists is None:
                payload = {
                    "kind": "operator",
                    "reason": "operator",
                    "priority": "L2",
                    "title": text,
                    "excerpt": text,
                }
                session.add(
                    Alert(
                        dedupe_key=dedupe_key,
                        target=target.name,
                        kind="operator",
                        priority="L2",
                        payload=payload,
                    )
                )


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


class Outbox:
    """Delivers pending alert rows through the configured senders."""

    def __init__(
        self, db: Database, senders: Mapping[str, Sender], config: AlertsConfig, *, instance: str
    ) -> None:
        self.db = db
        self.senders = dict(senders)
        self.config = config
        self.instance = instance
        self._lock = threading.Lock()

    def release_own_claims(self) -> int:
        """At start-up: rows this instance had claimed when it died are due again at once."""
        with self.db.transaction() as session:
            result = session.execute(
                update(Alert)
                .where(Alert.status == "pending", Alert.claimed_by == self.instance)
                .values(next_attempt_at=utcnow(), claimed_by=None)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def _claim(self, limit: int) -> list[Alert]:
        now = utcnow()
        with self.db.transaction() as session:
            rows = list(
                session.scalars(
                    select(Alert)
                    .where(Alert.status == "pending", Alert.next_attempt_at <= now)
                    .order_by(Alert.id)
                    .limit(limit)
                )
            )
            claimed: list[Alert] = []
            for row in rows:
                result = session.execute(
                    update(Alert)
                    .where(Alert.id == row.id, Alert.status == "pending", Alert.next_attempt_at <= now)
                    .values(
                        next_attempt_at=now + LEASE, claimed_by=self.instance, attempts=Alert.attempts + 1
                    )
                    .execution_options(synchronize_session=False)  # row.attempts keeps the pre-claim count
                )
                if getattr(result, "rowcount", 0) == 1:
                    claimed.append(row)
            return claimed

    def _outgoing(self, row: Alert, sender: Sender) -> dict[str, Any]:
        payload = dict(row.payload)
        payload["id"] = row.id
        payload["target"] = row.target
        payload["idempotency_key"] = f"{row.dedupe_key}@{row.target}"
        if sender.group_chat:
            _mask(payload)
            payload["top"] = [_mask(dict(t)) for t in payload.get("top") or []]
        return payload

    def _finish(self, row: Alert, result: SendResult) -> str:
        now = utcnow()
        attempts = row.attempts + 1
        values: dict[str, Any]
        if result.outcome is Outcome.OK:
            values = {"status": "sent", "sent_at": now, "last_error": None, "claimed_by": None}
        elif result.outcome is Outcome.RETRY and attempts < self.config.max_attempts:
            delay = min(self.config.retry_max_seconds, self.config.retry_base_seconds * 2 ** (attempts - 1))
            delay = max(delay * random.uniform(0.8, 1.2), result.retry_after or 0)
            values = {
                "next_attempt_at": now + timedelta(seconds=delay),
                "last_error": result.detail,
                "claimed_by": None,
            }
        else:
            values = {"status": "failed", "last_error": result.detail or "gave up", "claimed_by": None}
        with self.db.transaction() as session:
            session.execute(update(Alert).where(Alert.id == row.id).values(**values))
        return str(values.get("status", "retry"))

    def deliver(self, *, limit: int = 200, stop: threading.Event | None = None) -> DeliveryStats:
        """Send what is due now; safe to call from several threads (one runs at a time)."""
        stats = DeliveryStats()
        if not self._lock.acquire(blocking=False):
            return stats
        try:
            while not (stop is not None and stop.is_set()):
                rows = self._claim(limit)
                if not rows:
                    break
                for row in rows:
                    self._deliver_one(row, stats)
                if len(rows) < limit:
                    break
        finally:
            self._lock.release()
        return stats

    def _deliver_one(self, row: Alert, stats: DeliveryStats) -> None:
        sender = self.senders.get(row.target)
        if sender is None:
            result = SendResult(Outcome.FATAL, f"no enabled alert target named {row.target!r}")
        else:
            try:
                result = sender.send(self._outgoing(row, sender))
            except Exception as exc:
                log.exception("sender_crashed", target=row.target, alert=row.id)
                result = SendResult(Outcome.RETRY, f"sender error: {type(exc).__name__}: {exc}")
        status = self._finish(row, result)
        if status == "sent":
            stats.sent += 1
        elif status == "failed":
            stats.failed += 1
            log.warning("alert_failed", alert=row.id, target=row.target, error=result.detail)
        else:
            stats.retried += 1
            log.info("alert_retry", alert=row.id, target=row.target, error=result.detail)
