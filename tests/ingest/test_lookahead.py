"""With analysis workers ``poll_source`` reads one batch ahead and analyses it while the current one
is stored: the stored result is the same as in-process, batches are still committed in order with
their checkpoints, and a stop or a failing source leaves the read-ahead batch unstored."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from connectors.base import Connector, ConnectorConfig
from monitor.errors import UnavailableError
from monitor.ingest.analyse import AnalysisPool
from monitor.message import Author, Batch, Checkpoint, Message
from monitor.pipeline import load_checkpoint, poll_source
from monitor.storage.db import Database
from monitor.storage.models import StoredMessage, Ticket
from monitor.tickets.fingerprint import fingerprint
from monitor.tickets.incidents import post_fingerprint, post_text, remember_fingerprints
from tests.helpers.builders import KeywordStub
from tests.helpers.context import context

STUB = KeywordStub({"投诉": ("L2", True), "建议": ("L3", False), "爆炸": ("L1", True)})
TEXTS = (
    "我要投诉你们的售后服务，快递三天没到",
    "建议增加夜间配送",
    "店里的充电宝爆炸了，有人受伤",
    "普通留言，谢谢",
)


def posts(count: int) -> list[Message]:
    start = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    return [
        Message(
            source="src",
            external_id=f"m{i}",
            thread_key=f"t{i % 7}",
            text=f"{TEXTS[i % 4]} {i % 3}",
            created_at=start + timedelta(seconds=i),
            channel="feedback",
            author=Author(f"u{i % 5}", "User"),
        )
        for i in range(count)
    ]


class ListConfig(ConnectorConfig):
    pass


class ListConnector(Connector[ListConfig]):
    """Batches from a list; records when each is read and committed; may fail reading one."""

    kind: ClassVar[str] = "list"
    channel: ClassVar[str] = "feedback"
    Config: ClassVar[type[ListConfig]] = ListConfig

    def __init__(self, messages: list[Message], *, fail_at: int | None = None) -> None:
        super().__init__("src", ListConfig())
        self.messages = messages
        self.fail_at = fail_at
        self.events: list[str] = []

    def fetch(
        self, checkpoint: Checkpoint | None, *, batch_size: int = 500, stop: threading.Event | None = None
    ) -> Iterator[Batch]:
        position = int((checkpoint or {}).get("pos", 0))
        while position < len(self.messages):
            if self.fail_at is not None and position >= self.fail_at:
                raise UnavailableError("the source went away")
            end = min(position + batch_size, len(self.messages))
            self.events.append(f"read {end}")
            yield Batch(tuple(self.messages[position:end]), {"pos": end})
            position = end

    def after_commit(self, batch: Batch) -> None:
        self.events.append(f"commit {batch.checkpoint['pos']}")


@pytest.fixture
def pool() -> Iterator[AnalysisPool]:
    made = AnalysisPool(2)
    yield made
    made.close()


def rows(db: Database) -> list[tuple[Any, ...]]:
    with db.read() as session:
        query = select(
            StoredMessage.external_id,
            StoredMessage.priority,
            StoredMessage.ticket_id,
            StoredMessage.cluster_id,
            StoredMessage.incident_id,
            StoredMessage.analysis,
        ).order_by(StoredMessage.id)
        stored = [tuple(row) for row in session.execute(query)]
        tickets = [tuple(row) for row in session.execute(select(Ticket.code, Ticket.priority).order_by(Ticket.id))]
    return stored + tickets


def test_two_workers_store_what_in_process_analysis_stores(
    sqlite_db: Database, tmp_path: Path, pool: AnalysisPool
) -> None:
    messages = posts(230)
    inline = Database(f"sqlite:///{tmp_path / 'inline.db'}")
    inline.upgrade()
    poll_source(lambda: context(inline, STUB), "src", ListConnector(messages), batch_size=40)
    connector = ListConnector(messages)
    stats = poll_source(lambda: context(sqlite_db, STUB, pool=pool), "src", connector, batch_size=40)
    assert stats.new == 230
    assert rows(sqlite_db) == rows(inline)
    assert load_checkpoint(sqlite_db, "src") == {"pos": 230}
    # read ahead: batch 2 was read before batch 1 was committed; commits stay in order
    assert connector.events[:3] == ["read 40", "read 80", "commit 40"]
    assert [e for e in connector.events if e.startswith("commit")] == [f"commit {n}" for n in (40, 80, 120, 160, 200, 230)]
    inline.dispose()


def test_a_stop_leaves_the_batch_read_ahead_for_the_next_poll(sqlite_db: Database, pool: AnalysisPool) -> None:
    stop = threading.Event()
    connector = ListConnector(posts(100))
    stats = poll_source(
        lambda: context(sqlite_db, STUB, pool=pool), "src", connector, batch_size=40, stop=stop,
        on_batch=lambda _stats: stop.set(),
    )
    assert stats.new == 40 and "read 80" in connector.events  # read, analysed, not stored
    assert load_checkpoint(sqlite_db, "src") == {"pos": 40}
    again = poll_source(lambda: context(sqlite_db, STUB, pool=pool), "src", connector, batch_size=40)
    assert (again.new, again.duplicates) == (60, 0)
    assert load_checkpoint(sqlite_db, "src") == {"pos": 100}


def test_a_source_failing_while_read_ahead_stores_the_current_batch_first(
    sqlite_db: Database, pool: AnalysisPool
) -> None:
    connector = ListConnector(posts(100), fail_at=40)
    with pytest.raises(UnavailableError):
        poll_source(lambda: context(sqlite_db, STUB, pool=pool), "src", connector, batch_size=40)
    assert connector.events == ["read 40", "commit 40"]
    assert load_checkpoint(sqlite_db, "src") == {"pos": 40}
    connector.fail_at = None
    assert poll_source(lambda: context(sqlite_db, STUB, pool=pool), "src", connector, batch_size=40).new == 60


def test_fingerprints_from_the_workers_are_the_ones_clustering_uses() -> None:
    batch = posts(3)
    made = [post_fingerprint(m) for m in batch]
    remember_fingerprints(batch, made)
    assert [fingerprint(post_text(m)) for m in batch] == made
    assert fingerprint(post_text(batch[0])) is made[0]  # found, not computed again
