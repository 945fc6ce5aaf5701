"""Retrying quarantined input: parse it again with its source's connector and store it."""

from __future__ import annotations

from sqlalchemy import select

from monitor.config import AppConfig, SourceConfig
from monitor.errors import BadInputError
from monitor.ingest.bisect import PIPELINE_ERROR, message_from_json
from monitor.message import Batch, Message
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
            (q.id, q.status, q.source.name, q.source.kind, q.raw, q.raw_size, q.raw_ref, q.reason)
            for q in session.scalars(query)
        ]
    results: list[tuple[int, str]] = []
    for item_id, status, source_name, kind, raw, raw_size, raw_ref, reason in items:
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
            message = _reparse(source, raw, raw_ref, reason)
        except (BadInputError, NotImplementedError) as exc:
            _record_attempt(db, item_id, str(exc))
            results.append((item_id, f"still bad: {exc}"))
            continue
        stats = process_batch(runtime.context(), source_name, kind, Batch((message,), {}), advance_checkpoint=False)
        _record_attempt(db, item_id, None)
        results.append((item_id, "stored" if stats.new else "duplicate (already stored)"))
    return results


def _reparse(source: SourceConfig, raw: bytes, raw_ref: str, reason: str) -> Message:
    """Parse the row again; a message the pipeline quarantined is kept as the message itself
    (monitor.ingest.bisect), so it keeps its external id instead of being parsed as a record."""
    if reason.startswith(PIPELINE_ERROR):
        try:
            return message_from_json(raw)
        except (ValueError, TypeError, KeyError) as exc:
            raise BadInputError(f"stored message unreadable: {exc}") from None
    return build_connector(source).parse_raw(raw, raw_ref)


def _record_attempt(db: Database, item_id: int, error: str | None) -> None:
    with db.transaction() as session:
        item = session.get(QuarantineItem, item_id)
        if item is None:
            return
        item.attempts += 1
        item.last_error = error
        if error is None:
            item.status = "retried"
