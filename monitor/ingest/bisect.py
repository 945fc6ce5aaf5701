"""A batch the pipeline cannot store is split until the message that breaks it is found.

Connectors already quarantine records they cannot parse (connectors.guard). A message can still
break the batch further on - an analyzer, the ticket stage or the database rejecting one value -
and a batch that fails every time at the same checkpoint would stop its source for good. So:

1. the batch is stored as usual; if that raises, it is tried once more (a passing hiccup);
2. if it fails again, it is bisected: halves are stored without the checkpoint, a half that
   fails is split again, and a single message that fails is the poison one;
3. the poison messages become quarantine rows (reason, raw reference, the message as JSON) and
   are committed with the batch's own quarantine rows and its checkpoint in one transaction.

Halves stored before a crash are stored again on the replay and deduplicated by storage, so
nothing is lost or doubled. Infrastructure failures are never bisected: a database that is down
or a source that is unreachable raise at once, the batch is retried later, and no input is
quarantined because the database was away.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import structlog
from sqlalchemy import exc as sa_exc

from monitor.errors import BadInputError, YuqingError
from monitor.message import Author, Batch, Checkpoint, Engagement, Message, Quarantined

log = structlog.get_logger("yuqing.ingest")
S = TypeVar("S")
Process = Callable[[Batch, bool], S]  # (batch, advance the checkpoint?) -> stats; one transaction


def is_infrastructure(exc: BaseException) -> bool:
    """Failures of the database or the source, not of one message: retried, never quarantined.

    Any DBAPI error counts (the server is down, a disk is full, the schema is behind) except
    those about a value - ``DataError`` (a value the column cannot hold) and ``IntegrityError``
    (a constraint) - unless the connection was lost while raising them.
    """
    if isinstance(exc, YuqingError):
        return not isinstance(exc, BadInputError)
    if isinstance(exc, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or not isinstance(exc, sa_exc.DataError | sa_exc.IntegrityError)
    return isinstance(exc, ConnectionError)


def process_resilient(process: Process[S], batch: Batch, *, source: str) -> tuple[list[S], Batch]:
    """Store ``batch`` with ``process``; bisect and quarantine poison messages if it keeps failing."""
    for attempt in (1, 2):
        try:
            return [process(batch, True)], batch
        except Exception as exc:
            if is_infrastructure(exc):
                raise
            log.error(
                "batch_failed",
                source=source,
                attempt=attempt,
                messages=len(batch.messages),
                error=f"{type(exc).__name__}: {exc}",
                exc_info=exc,
            )
    stats: list[S] = []
    poison: list[Quarantined] = []
    _bisect(process, list(batch.messages), batch.checkpoint, stats, poison)
    bad_refs = {q.raw_ref for q in poison}
    good = tuple(m for m in batch.messages if _ref(m) not in bad_refs)
    final = Batch((), batch.checkpoint, batch.quarantined + tuple(poison))
    stats.append(process(final, True))
    log.warning(
        "batch_bisected",
        source=source,
        messages=len(batch.messages),
        quarantined=len(poison),
        raw_refs=sorted(bad_refs)[:10],
    )
    return stats, Batch(good, batch.checkpoint, final.quarantined)


def _bisect(
    process: Process[S],
    messages: Sequence[Message],
    checkpoint: Checkpoint,
    stats: list[S],
    poison: list[Quarantined],
) -> None:
    if not messages:
        return
    try:
        stats.append(process(Batch(tuple(messages), checkpoint), False))
        return
    except Exception as exc:
        if is_infrastructure(exc):
            raise
        if len(messages) == 1:
            poison.append(quarantine_message(messages[0], exc))
            return
    middle = len(messages) // 2
    _bisect(process, messages[:middle], checkpoint, stats, poison)
    _bisect(process, messages[middle:], checkpoint, stats, poison)


def _ref(message: Message) -> str:
    return message.raw_ref or f"external_id={message.external_id}"


def quarantine_message(message: Message, exc: BaseException) -> Quarantined:
    """A message the pipeline cannot store, as a quarantine row: the reason, where it came from
    (``raw_ref``) and the message itself as JSON."""
    text = str(exc).splitlines()[0][:300] if str(exc) else ""
    reason = f"{PIPELINE_ERROR}{type(exc).__name__}: {text}".rstrip(": ")
    log.error("message_quarantined", source=message.source, raw_ref=_ref(message), reason=reason)
    return Quarantined(message.source, reason, message_json(message), raw_ref=_ref(message))


def message_json(message: Message) -> bytes:
    def default(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else str(value)

    record = dataclasses.asdict(message)
    return json.dumps(record, ensure_ascii=False, default=default).encode("utf-8", "replace")


PIPELINE_ERROR = "pipeline error "  # how the reason of a row written here starts


def message_from_json(raw: bytes) -> Message:
    """The message a pipeline-quarantined row holds (``quarantine retry``); ValueError if it is not one."""
    data = json.loads(raw)
    author = Author(**data.pop("author"))
    engagement = Engagement(**data.pop("engagement"))
    data["created_at"] = datetime.fromisoformat(data["created_at"])
    data["flags"] = tuple(data.get("flags") or ())
    return Message(author=author, engagement=engagement, **data)
