"""With the intake on SQLite a polled batch is stored in short transactions (``poll_chunk``) so
that a waiting intake group takes the write turn between them: the result is the one transaction
per batch would give, the checkpoint advances only with the last transaction, and a crash before
it stores nothing twice on the replay."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from monitor.config import AppConfig
from monitor.message import Batch, Quarantined
from monitor.pipeline import PipelineContext, load_checkpoint, poll_source, process_batch, store_chunked
from monitor.runtime import POLL_CHUNK, build_context
from monitor.storage.db import Database
from monitor.storage.models import QuarantineItem, StoredMessage
from tests.helpers.context import context
from tests.ingest.test_lookahead import STUB, ListConnector, posts, rows

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def chunked(db: Database, size: int | None, clock: Callable[[], datetime] = lambda: NOW) -> PipelineContext:
    base = context(db, STUB, clock=clock)
    return PipelineContext(
        base.db, base.analyzer, base.stories, base.clock, base.alerting, base.tickets, base.pool, poll_chunk=size
    )


def commits(db: Database) -> list[int]:
    counted = [0]
    event.listen(db.engine, "commit", lambda _conn: counted.__setitem__(0, counted[0] + 1))
    return counted


def stored(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(StoredMessage)) or 0)


@pytest.mark.parametrize("size", [1, 3, 7], ids=["chunk-1", "chunk-3", "chunk-7"])
def test_chunked_polls_store_what_one_transaction_per_batch_stores(tmp_path: Path, size: int) -> None:
    whole, parts = Database(f"sqlite:///{tmp_path / 'whole.db'}"), Database(f"sqlite:///{tmp_path / 'parts.db'}")
    for db in (whole, parts):
        db.upgrade()
    messages = posts(40)
    counted = commits(parts)
    one = poll_source(lambda: chunked(whole, None), "src", ListConnector(messages), batch_size=20)
    many = poll_source(lambda: chunked(parts, size), "src", ListConnector(messages), batch_size=20)
    assert rows(parts) == rows(whole)
    assert (many.fetched, many.new, many.tickets, many.alerts) == (one.fetched, one.new, one.tickets, one.alerts)
    assert load_checkpoint(parts, "src") == load_checkpoint(whole, "src") == {"pos": 40}
    assert counted[0] >= 2 * math.ceil(20 / size)  # at least one transaction per chunk of each batch


def test_a_crash_before_the_last_chunk_keeps_the_checkpoint_and_the_replay_stores_each_message_once(
    sqlite_db: Database,
) -> None:
    process_batch(chunked(sqlite_db, None), "src", "list", Batch(tuple(posts(2)), {"pos": 2}))
    batch = Batch(tuple(posts(12)), {"pos": 12}, (Quarantined("src", "bad record", b"\xff", raw_ref="line 9"),))
    calls = [0]

    def dies_at_the_third_chunk() -> datetime:  # a crash between the second and the last transaction
        calls[0] += 1
        if calls[0] == 3:
            raise RuntimeError("killed")
        return NOW

    with pytest.raises(RuntimeError, match="killed"):
        store_chunked(chunked(sqlite_db, 4, dies_at_the_third_chunk), "src", "list", batch, 4, True, None, None)
    assert stored(sqlite_db) == 8  # the first two chunks
    assert load_checkpoint(sqlite_db, "src") == {"pos": 2}
    with sqlite_db.read() as session:
        assert session.scalar(select(func.count()).select_from(QuarantineItem)) == 0  # goes with the checkpoint

    replay = store_chunked(chunked(sqlite_db, 4), "src", "list", batch, 4, True, None, None)
    assert (replay.fetched, replay.new, replay.duplicates, replay.quarantined, replay.batches) == (12, 4, 8, 1, 1)
    assert stored(sqlite_db) == 12
    assert load_checkpoint(sqlite_db, "src") == {"pos": 12}
    with sqlite_db.read() as session:
        assert session.scalar(select(func.count()).select_from(QuarantineItem)) == 1


def test_a_repeated_id_in_a_chunked_batch_is_stored_once(sqlite_db: Database) -> None:
    messages = posts(5)
    batch = Batch((*messages, messages[1], messages[4]), {"pos": 7})
    stats = store_chunked(chunked(sqlite_db, 2), "src", "list", batch, 2, True, None, None)
    assert (stats.fetched, stats.new, stats.duplicates) == (7, 5, 2)
    assert stored(sqlite_db) == 5


@pytest.mark.parametrize("intake", [True, False], ids=["intake-on", "intake-off"])
def test_polls_are_chunked_only_with_the_intake_on_sqlite(tmp_path: Path, any_db: Database, intake: bool) -> None:
    """Only SQLite has one write lock for the whole database; the others lock rows."""
    config = AppConfig.model_validate({"state_dir": str(tmp_path), "intake": {"enabled": intake}})
    sqlite = any_db.engine.dialect.name == "sqlite"
    assert build_context(config, any_db, STUB).poll_chunk == (POLL_CHUNK if intake and sqlite else None)
