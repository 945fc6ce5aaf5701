"""Persisted operational state: per-source health rows and the outbox's depth and age.

Written by the daemon (``save_source_health`` after its polls), read by ``yuqing status``, the
``/metrics`` collector and a daemon that starts (``monitor.health.restore``). Small, indexed reads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.storage.db import Database
from monitor.storage.models import Alert, SourceHealthRow, utcnow


@dataclass(frozen=True)
class SourceHealthRecord:
    source: str
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    failures: int
    failing_since: datetime | None
    disabled_reason: str | None
    last_new_at: datetime | None = None


def save_source_health(db: Database, instance: str, record: SourceHealthRecord) -> None:
    """Insert or update the row of ``record.source`` (last writer wins: one poller per source)."""
    for attempt in (0, 1):
        try:
            with db.transaction() as session:
                row = session.get(SourceHealthRow, record.source)
                if row is None:
                    row = SourceHealthRow(source=record.source)
                    session.add(row)
                row.instance = instance
                row.last_success_at = record.last_success_at or row.last_success_at
                row.last_attempt_at = record.last_attempt_at
                row.last_error = record.last_error
                row.last_error_at = record.last_error_at
                row.failures = record.failures
                row.failing_since = record.failing_since
                row.disabled_reason = record.disabled_reason
                row.last_new_at = record.last_new_at or row.last_new_at
                row.updated_at = utcnow()
            return
        except IntegrityError:  # inserted by someone else meanwhile: update it
            if attempt:
                raise


def load_source_health(session: Session) -> dict[str, SourceHealthRow]:
    return {row.source: row for row in session.scalars(select(SourceHealthRow))}


def outbox_state(session: Session) -> tuple[int, datetime | None]:
    """Pending notifications and the creation time of the oldest (``ix_alerts_status``)."""
    depth, oldest = session.execute(
        select(func.count(), func.min(Alert.created_at)).where(Alert.status == "pending")
    ).one()
    return int(depth), oldest
