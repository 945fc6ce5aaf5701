"""The daemon checkpoints SQLite's write-ahead log in a thread of its own: commits no longer copy
the log into the database when it passes 1,000 pages, and the log is still copied and kept short."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from sqlalchemy import text

from monitor.storage.db import Database
from monitor.storage.wal import BACKSTOP_PAGES, RESTART_PAGES

ROW = "x" * 3000  # about one 4 KiB page per row


def fill(db: Database, pages: int, per_transaction: int = 50) -> None:
    with db.transaction() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS filler (body TEXT)"))
    for _ in range(pages // per_transaction):
        with db.transaction() as session:
            session.execute(text("INSERT INTO filler (body) VALUES (:body)"), [{"body": ROW}] * per_transaction)


def log_state(path: Path) -> tuple[int, int]:
    """(frames in the log, frames already copied into the database), from another connection."""
    with sqlite3.connect(path) as connection:
        _, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return frames, copied


def autocheckpoint(db: Database) -> int:
    with db.read() as session:
        return int(session.execute(text("PRAGMA wal_autocheckpoint")).scalar_one())


def test_commits_leave_the_log_to_the_background_checkpointer(tmp_path: Path) -> None:
    path = tmp_path / "yuqing.db"
    db = Database(f"sqlite:///{path}")
    db.checkpoint_in_background(interval=3600)  # never runs in this test: only the commits act
    try:
        assert autocheckpoint(db) == BACKSTOP_PAGES
        fill(db, 1500)
        wal_pages = path.with_name("yuqing.db-wal").stat().st_size // 4096
        assert wal_pages >= 1500  # past 1,000 pages and no commit restarted the log
    finally:
        db.dispose()
    assert autocheckpoint(db) == 1000  # stopped: SQLite's own default again for new connections


def test_the_background_checkpointer_copies_and_restarts_the_log(tmp_path: Path) -> None:
    path = tmp_path / "yuqing.db"
    db = Database(f"sqlite:///{path}")
    db.checkpoint_in_background(interval=0.05)
    try:
        assert db.checkpointer is not None
        fill(db, RESTART_PAGES + 500)
        runs = db.checkpointer.runs
        deadline = time.monotonic() + 10
        while db.checkpointer.runs < runs + 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        with db.transaction() as session:  # the first writer after a restart writes from the log's start
            session.execute(text("INSERT INTO filler (body) VALUES ('after')"))
        frames, copied = log_state(path)
        assert frames < RESTART_PAGES  # restarted, not grown to the backstop
        assert copied == frames
        with db.read() as session:
            assert session.execute(text("SELECT COUNT(*) FROM filler")).scalar_one() == RESTART_PAGES + 500 + 1
    finally:
        db.dispose()
    assert db.checkpointer is None


def test_other_databases_have_no_checkpointer(tmp_path: Path) -> None:
    memory = Database("sqlite://")
    memory.checkpoint_in_background()
    assert memory.checkpointer is None
