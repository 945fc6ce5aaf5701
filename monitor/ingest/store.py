"""Store new messages (deduplicated by source and external id), quarantine rows and checkpoints."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import Session

from connectors.reposts import PostKeys, post_keys
from monitor.findings import Analysis, Finding
from monitor.leases import Fence, check_fence
from monitor.message import Checkpoint, Message, Quarantined
from monitor.storage.models import QuarantineItem, Source, StoredMessage, utcnow
from monitor.stored import MessageRow, NewMessage

MESSAGES = cast(Table, StoredMessage.__table__)
QUARANTINE_RAW_CAP = 1024 * 1024  # raw bytes kept per quarantine row; the full size is recorded
_CHUNK = 500
# Built once (every batch runs them): building a statement and its cache key per call cost more CPU
# than running it (bench/intake_cpu.py); the SQL is the same.
_SOURCE = select(Source).where(Source.name == bindparam("name"))
_EXISTING = select(StoredMessage.external_id).where(
    StoredMessage.source_id == bindparam("source_id"), StoredMessage.external_id.in_(bindparam("ids", expanding=True))
)
_STORED = select(MESSAGES.c.external_id, MESSAGES.c.id).where(
    MESSAGES.c.source_id == bindparam("source_id"), MESSAGES.c.external_id.in_(bindparam("ids", expanding=True))
)
_INSERT = insert(MESSAGES)
_RECORDS = "yuqing.stored.records"  # session.info key: this transaction's analysis records by row id


def stored_records(session: Session) -> dict[int, dict[str, Any]]:
    """The ``analysis`` column values of the messages this transaction stored, by row id, as
    inserted: equal to what the JSON column reads back (only lists, strings, numbers, booleans and
    None). The batch's pages use them (``monitor.stories.notify``) rather than read and decode the
    column again - the largest part of loading a long mail's row. One session per transaction, so
    they never outlive it."""
    records: dict[int, dict[str, Any]] = session.info.setdefault(_RECORDS, {})
    return records


def get_or_create_source(session: Session, name: str, kind: str) -> Source:
    source = session.scalar(_SOURCE, {"name": name})
    if source is None:
        source = Source(name=name, kind=kind)
        session.add(source)
        session.flush()
    return source


def known_ids(session: Session, source_name: str, external_ids: Sequence[str]) -> set[str]:
    """The ids of ``external_ids`` already stored for the source (none if the source is new).

    Looked up before analysis: a replayed or resynced message costs this query, not an analysis.
    """
    source_id = session.scalar(select(Source.id).where(Source.name == source_name))
    if source_id is None or not external_ids:
        return set()
    return _existing_ids(session, source_id, list(dict.fromkeys(external_ids)))


def _existing_ids(session: Session, source_id: int, external_ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(external_ids), _CHUNK):
        chunk = external_ids[start : start + _CHUNK]
        found.update(session.scalars(_EXISTING, {"source_id": source_id, "ids": chunk}))
    return found


def finding_record(finding: Finding) -> dict[str, Any]:
    """Every analysed field of a finding, so that a review approval can rebuild it exactly."""
    return {
        "rule_id": finding.rule_id,
        "priority": finding.priority,
        "alert": finding.alert,
        "review": finding.review,
        "feedback_type": finding.feedback_type,
        "category": finding.category,
        "department": finding.department,
        "tags": list(finding.tags),
        "matches": [[m.keyword, m.start, m.end, m.field] for m in finding.matches],
    }


def analysis_record(analysis: Analysis) -> dict[str, Any]:
    """The JSON kept with a stored message: what fired and why."""
    return {
        "priority": analysis.priority,
        "alert": analysis.alert,
        "review": analysis.review,
        "rules": [f.rule_id for f in analysis.findings],
        "alerts": [f.rule_id for f in analysis.findings if f.alert],  # per rule, for rules backtest
        "keywords": sorted({m.keyword for f in analysis.findings for m in f.matches}),
        "findings": [finding_record(f) for f in analysis.findings],
        "sentiment": (
            {"score": analysis.sentiment.score, "label": analysis.sentiment.label}
            if analysis.sentiment
            else None
        ),
    }


def message_keys(message: Message) -> PostKeys:
    """The repost keys of a message's row (``connectors.reposts``); pure, so the analysis workers
    can compute them next to the analysis (``monitor.pipeline``)."""
    return post_keys(message.text, (message.author.display_name, message.author.id))


def store_messages(
    session: Session,
    source: Source,
    messages: Iterable[tuple[Message, Analysis]],
    *,
    keys: Mapping[str, PostKeys] | None = None,
) -> tuple[list[NewMessage], int]:
    """Insert messages not stored yet; return the new ones and the number of duplicates.

    ``keys``: repost keys already computed (:func:`message_keys`, in the analysis workers) by
    external id; the others are computed here."""
    unique: dict[str, tuple[Message, Analysis]] = {}
    duplicates = 0
    for message, analysis in messages:
        if message.external_id in unique:
            duplicates += 1
        else:
            unique[message.external_id] = (message, analysis)
    existing = _existing_ids(session, source.id, list(unique))
    duplicates += len(existing)
    now = utcnow()
    pending: list[tuple[Message, Analysis, PostKeys]] = []
    rows: list[dict[str, Any]] = []
    for external_id, (message, analysis) in unique.items():
        if external_id in existing:
            continue
        found = keys.get(external_id) if keys is not None else None
        made = found if found is not None else message_keys(message)
        pending.append((message, analysis, made))
        rows.append(_row(source.id, external_id, message, analysis, now, made))
    if not rows:
        return [], duplicates
    # Core executemany, then the ids in one indexed query: portable, and unlike INSERT ...
    # RETURNING in parameter order it does not fall back to one statement per row on SQLite.
    session.connection().execute(_INSERT, rows)
    ids = _stored_ids(session, source.id, [row["external_id"] for row in rows])
    stored_records(session).update((ids[row["external_id"]], row["analysis"]) for row in rows)
    new = [
        NewMessage(
            MessageRow(
                ids[row["external_id"]],
                row["thread_key"],
                row["channel"],
                keys=(made.text_key, made.root_key, made.owner_keys),
            ),
            message,
            analysis,
        )
        for row, (message, analysis, made) in zip(rows, pending, strict=True)
    ]
    return new, duplicates


def _stored_ids(session: Session, source_id: int, external_ids: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(external_ids), _CHUNK):
        chunk = external_ids[start : start + _CHUNK]
        rows = session.execute(_STORED, {"source_id": source_id, "ids": chunk})
        found.update({external_id: row_id for external_id, row_id in rows})
    return found


def _row(
    source_id: int, external_id: str, message: Message, analysis: Analysis, now: Any, keys: PostKeys
) -> dict[str, Any]:
    return {
        "source_id": source_id,
        "external_id": external_id[:255],
        "thread_key": message.thread_key[:255],
        "channel": message.channel[:32],
        "author_id": message.author.id[:255],
        "author_name": message.author.display_name[:255],
        "author_followers": message.author.followers,
        "title": message.title[:1024],
        "text": message.text,
        "html": message.html,
        "url": message.url[:2048] if message.url else None,
        "likes": message.engagement.likes,
        "reposts": message.engagement.reposts,
        "replies": message.engagement.replies,
        "raw_ref": message.raw_ref[:1024],
        "flags": ",".join(message.flags)[:255],
        "created_at": message.created_at,
        "ingested_at": now,
        "priority": analysis.priority,
        "analysis": analysis_record(analysis),
        "ticket_id": None,
        "ref_id": message.ref_id[:255] or None,
        "topic": message.topic[:64] or None,
        "text_key": keys.text_key or None,
        "root_key": keys.root_key or None,
    }


def store_quarantined(session: Session, source: Source, items: Iterable[Quarantined]) -> int:
    count = 0
    for item in items:
        session.add(
            QuarantineItem(
                source_id=source.id,
                reason=item.reason,
                raw=item.raw[:QUARANTINE_RAW_CAP],
                raw_size=item.size,
                raw_ref=item.raw_ref[:1024],
            )
        )
        count += 1
    return count


def save_checkpoint(
    source: Source, checkpoint: Checkpoint, *, session: Session | None = None, fence: Fence | None = None
) -> None:
    """Advance the source's checkpoint in the caller's transaction. With a ``fence`` (several
    instances, ``monitor.leases``) the source's lease is checked - and renewed - in that same
    transaction first: an instance that lost the lease raises ``LeaseLost`` and commits nothing."""
    if fence is not None:
        if session is None:
            raise ValueError("a fenced checkpoint needs the transaction's session")
        check_fence(session, fence)
    source.checkpoint = checkpoint
    source.checkpoint_at = utcnow()
