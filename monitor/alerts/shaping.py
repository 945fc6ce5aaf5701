"""Apply noise control to outbox rows, inside the delivery transaction.

Everything is rows: an alert held back becomes ``status='folded'`` with ``folded_into`` naming a
summary row (``kind`` ``digest`` or ``overflow``, ``status='collecting'`` until its
``next_attempt_at``); what a target received in the last hour is the rows with ``dispatched_at``
in it. A restart, or several daemon instances sharing the database, see the same state.

Concurrency: the delivery transaction first locks the ``alert_targets`` rows of the targets with
noise control (``SELECT ... FOR UPDATE``, sorted; SQLite's ``BEGIN IMMEDIATE`` already
serialises), so two instances never both fold into, promote or count for one target at once.
Taking the lock as the transaction's first statement also makes MariaDB's snapshot start after
it. A summary's items are fixed when it is promoted to ``pending``; a re-send after a crash
carries the identical payload and idempotency key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.alerts.noise import HOUR, Action, Window, summary_due
from monitor.findings import most_urgent
from monitor.notices import Summary, SummaryItem
from monitor.storage.db import Database
from monitor.storage.models import Alert, AlertTarget
from monitor.targets import NoiseConfig

MAX_ITEMS = 100
TITLE_CHARS = 120


def ensure_target_rows(db: Database, names: Iterable[str]) -> None:
    """Create the lock rows of targets with noise control (idempotent, safe when racing)."""
    for name in sorted(set(names)):
        try:
            with db.transaction() as session:
                if session.get(AlertTarget, name) is None:
                    session.add(AlertTarget(name=name))
        except IntegrityError:
            continue  # another instance created it


def lock_targets(session: Session, names: Iterable[str]) -> None:
    wanted = sorted(set(names))
    if wanted:
        session.execute(
            select(AlertTarget.name)
            .where(AlertTarget.name.in_(wanted))
            .order_by(AlertTarget.name)
            .with_for_update()
        ).all()


def hour_window(session: Session, target: str, now: datetime) -> Window:
    row = session.execute(
        select(func.count(), func.min(Alert.dispatched_at)).where(
            Alert.target == target, Alert.dispatched_at > now - HOUR
        )
    ).one()
    return Window(int(row[0] or 0), row[1])


def fold(session: Session, row: Alert, kind: str, due: datetime, now: datetime) -> int:
    """Hold ``row`` in the target's collecting summary of ``kind`` (created if there is none)."""
    summary = session.scalar(
        select(Alert)
        .where(Alert.target == row.target, Alert.kind == kind, Alert.status == "collecting")
        .order_by(Alert.id)
        .limit(1)
    )
    if summary is None:
        summary = Alert(
            dedupe_key=f"{kind}:{row.target}:{row.id}",
            target=row.target,
            kind=kind,
            priority=row.priority,
            status="collecting",
            step=kind,
            payload={},
            created_at=now,
            next_attempt_at=due,
        )
        session.add(summary)
        session.flush()
    elif most_urgent(summary.priority, row.priority) != summary.priority:
        summary.priority = row.priority
    session.execute(
        update(Alert)
        .where(Alert.id == row.id)
        .values(status="folded", folded_into=summary.id)
        .execution_options(synchronize_session=False)
    )
    return summary.id


def _item(row: Alert) -> dict[str, Any]:
    payload = row.payload or {}
    ref = payload.get("story") or payload.get("incident") or payload.get("ticket") or f"#{row.id}"
    return {
        "alert": row.id,
        "kind": row.kind,
        "step": row.step,
        "priority": row.priority,
        "ref": ref,
        "title": str(payload.get("title") or payload.get("excerpt") or "")[:TITLE_CHARS],
        "url": payload.get("url"),
        "created_at": row.created_at.isoformat(),
    }


def summary_payload(session: Session, summary: Alert) -> dict[str, Any]:
    """The summary's message, from the rows folded into it (locked: the items are final)."""
    rows = list(
        session.scalars(
            select(Alert)
            .where(Alert.folded_into == summary.id, Alert.status == "folded")
            .order_by(Alert.id)
            .with_for_update()
        )
    )
    items = [_item(r) for r in rows]
    title = (
        f"{len(items)} 条告警超过每小时上限 alerts over the hourly cap"
        if summary.kind == "overflow"
        else f"{len(items)} 条告警汇总 alerts collected"
    )
    notice = Summary(
        kind=summary.kind,
        step=summary.kind,
        priority=summary.priority,
        title=title,
        excerpt=title,
        count=len(items),
        suppressed=len(items),
        items=[SummaryItem.model_validate(i) for i in items[:MAX_ITEMS]],
        more=max(0, len(items) - MAX_ITEMS),
        since=items[0]["created_at"] if items else None,
    )
    return notice.model_dump(mode="json")


def promote_due_summaries(
    session: Session, configs: Mapping[str, NoiseConfig], windows: dict[str, Window], now: datetime
) -> int:
    """Collecting summaries that are due become pending rows with their final payload."""
    due = list(
        session.scalars(
            select(Alert)
            .where(
                Alert.status == "collecting",
                Alert.next_attempt_at <= now,
                Alert.target.in_(sorted(configs)),
            )
            .order_by(Alert.id)
        )
    )
    promoted = 0
    for summary in due:
        config = configs[summary.target]
        window = windows.setdefault(summary.target, hour_window(session, summary.target, now))
        decision = summary_due(config, kind=summary.kind, now=now, window=window)
        if decision.action is Action.DIGEST and decision.due is not None:
            summary.next_attempt_at = decision.due  # quiet hours: wait for their end
        elif decision.action is Action.OVERFLOW and decision.due is not None:
            _merge_into_overflow(session, summary, decision.due, now)
        else:
            summary.payload = summary_payload(session, summary)
            summary.status = "pending"
            promoted += 1
    return promoted


def _merge_into_overflow(session: Session, digest: Alert, due: datetime, now: datetime) -> None:
    """The cap is full when a digest comes due: its items join the one overflow summary."""
    digest.status = "cancelled"
    session.flush()
    overflow_id = fold(session, digest, "overflow", due, now)
    session.execute(
        update(Alert)
        .where(Alert.folded_into == digest.id, Alert.id != digest.id)
        .values(folded_into=overflow_id)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Alert)
        .where(Alert.id == digest.id)
        .values(status="cancelled", folded_into=overflow_id)
        .execution_options(synchronize_session=False)
    )
