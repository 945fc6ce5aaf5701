"""Retrying quarantined input: parse it again with its source's connector and store it."""

from __future__ import annotations

from sqlalchemy import select

from monitor.config import AppConfig
from monitor.errors import BadInputError
from monitor.message import Batch
from monitor.pipeline import process_batch
from monitor.runtime import Runtime, build_connector
from monitor.storage.db import Database
from monitor.storage.models import QuarantineItem


def retry_quarantined(db: Database, config: AppConfig, ids: list[int] | None) -> list[tuple[int, str]]:
    """Re-parse the given rows (all pending ones when ``ids`` is None); returns (id, outcome)."""
    runtime = Runtime(config, db=db)
    sources = {s.name: s for s in config.sources}
    with db.read() as session:
        query = select(QuarantineItem).where(QuarantineItem.status == "pending")
        if ids is not None:
            query = select(QuarantineItem).where(QuarantineItem.id.in_(ids))
        items = [
            (q.id, q.status, q.source.name, q.source.kind, q.raw, q.raw_size, q.raw_ref)
            for q in session.scalars(query)
        ]
    results: list[tuple[int, str]] = []
    for item_id, status, source_name, kind, raw, raw_size, raw_ref in items:
        if status == "discarded":
            results.append((item_id, "discarded: not retried (已放弃，不重试)"))
            continue
        source = sources.get(source_name)
        if source is None:
            results.append((item_id, f"source {source_name} is no longer configured"))
            continue
        if raw_size > len(raw):
            results.append((item_id, "cannot retry: only the first bytes of this oversized input were kept"))
            continue
        try:
            message = build_connector(source).parse_raw(raw, raw_ref)
        except (BadInputError, NotImplementedError) as exc:
            _record_attempt(db, item_id, str(exc))
            results.append((item_id, f"still bad: {exc}"))
            continue
        stats = process_batch(
            db,
            source_name,
            kind,
            Batch((message,), {}),
            runtime.rules.current(),
            runtime.targets(),
            advance_checkpoint=False,
        )
        _record_attempt(db, item_id, None)
        results.append((item_id, "stored" if stats.new else "duplicate (already stored)"))
    return results


def _record_attempt(db: Database, item_id: int, error: str | None) -> None:
    with db.transaction() as session:
        item = session.get(QuarantineItem, item_id)
        if item is None:
            return
        item.attempts += 1
        item.last_error = error
        if error is None:
            item.status = "retried"
