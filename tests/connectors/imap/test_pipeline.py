"""The IMAP connector in the real ingest loop (monitor.pipeline.poll_source) on SQLite."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from connectors.imap import ImapConnector
from monitor.findings import Analysis
from monitor.ingest.analyse import AnalysisPool
from monitor.pipeline import poll_source
from monitor.storage.db import Database
from monitor.storage.models import StoredMessage
from tests.connectors.imap.conftest import make_mail
from tests.connectors.imap.dovecot import Dovecot
from tests.helpers.context import context

NOTHING = Analysis(())


def _poll(db: Database, connector: ImapConnector, pool: AnalysisPool | None = None) -> int:
    ctx = context(db, lambda m: NOTHING, pool=pool)
    stats = poll_source(lambda: ctx, connector.name, connector, batch_size=4)
    return stats.new


@pytest.mark.parametrize("workers", [1, 2], ids=["in-process", "two-workers-read-ahead"])
def test_poll_source_stores_once_then_flags_after_commit(
    own_dovecot: Dovecot, sqlite_db: Database, make_connector: Callable[..., ImapConnector], workers: int
) -> None:
    pool = AnalysisPool(workers) if workers > 1 else None
    try:
        _stores_once_then_flags(own_dovecot, sqlite_db, make_connector, pool)
    finally:
        if pool is not None:
            pool.close()


def _stores_once_then_flags(
    own_dovecot: Dovecot, sqlite_db: Database, make_connector: Callable[..., ImapConnector], pool: AnalysisPool | None
) -> None:
    own_dovecot.create_folder("support")
    own_dovecot.append("support", (make_mail(i) for i in range(10)))
    connector = make_connector(own_dovecot, ("support",), after_store="seen")
    assert _poll(sqlite_db, connector, pool) == 10
    admin = own_dovecot.client()
    admin.select_folder("support", readonly=True)
    assert len(admin.search(["SEEN"])) == 10  # after_commit ran after each committed batch
    admin.logout()
    own_dovecot.append("support", [make_mail(10)])
    assert _poll(sqlite_db, connector, pool) == 1
    own_dovecot.reset_uidvalidity("support")  # renumbered: read again, stored nothing twice
    assert _poll(sqlite_db, connector, pool) == 0
    with sqlite_db.read() as session:
        assert session.scalar(select(func.count()).select_from(StoredMessage)) == 11


class Counting:
    def __init__(self) -> None:
        self.seen = 0

    def __call__(self, message: object) -> Analysis:
        self.seen += 1
        return NOTHING


def test_a_resync_of_two_thousand_mails_analyses_only_the_thirty_new_ones_within_five_seconds(
    own_dovecot: Dovecot, sqlite_db: Database, make_connector: Callable[..., ImapConnector]
) -> None:
    own_dovecot.create_folder("big")
    own_dovecot.deliver("big", (make_mail(i) for i in range(2_000)))
    connector = make_connector(own_dovecot, ("big",))
    counting = Counting()
    ctx = context(sqlite_db, counting)
    assert poll_source(lambda: ctx, "imap", connector, batch_size=500).new == 2_000
    own_dovecot.deliver("big", (make_mail(i) for i in range(2_000, 2_030)))
    own_dovecot.reset_uidvalidity("big")  # a restored backup: every mail renumbered, 30 new
    counting.seen = 0
    started = time.monotonic()
    stats = poll_source(lambda: ctx, "imap", connector, batch_size=500)
    elapsed = time.monotonic() - started
    assert (stats.new, counting.seen) == (30, 30)  # the 2,000 known mails cost a header lookup only
    assert elapsed < 5.0, f"the resync took {elapsed:.1f} s"
    with sqlite_db.read() as session:
        assert session.scalar(select(func.count()).select_from(StoredMessage)) == 2_030


def test_read_ahead_with_workers_moves_each_batch_after_its_commit(
    own_dovecot: Dovecot, sqlite_db: Database, make_connector: Callable[..., ImapConnector]
) -> None:
    """The next batch is fetched before this one is moved: moving stored UIDs must not disturb it."""
    own_dovecot.create_folder("inbox2")
    own_dovecot.create_folder("inbox2-done")
    own_dovecot.append("inbox2", (make_mail(i) for i in range(10)))
    connector = make_connector(own_dovecot, ("inbox2",), after_store="move", move_to="inbox2-done")
    pool = AnalysisPool(2)
    try:
        assert _poll(sqlite_db, connector, pool) == 10
        assert _poll(sqlite_db, connector, pool) == 0
    finally:
        pool.close()
    admin = own_dovecot.client()
    assert admin.folder_status("inbox2", [b"MESSAGES"])[b"MESSAGES"] == 0
    assert admin.folder_status("inbox2-done", [b"MESSAGES"])[b"MESSAGES"] == 10
    admin.logout()
    with sqlite_db.read() as session:
        assert session.scalar(select(func.count()).select_from(StoredMessage)) == 10
