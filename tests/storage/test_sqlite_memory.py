"""SQLite's memory stays bounded however many distinct statements a daemon runs (issue 16).

Every IN-list length is a new SQL text; the sqlite3 module keeps prepared statements per
connection, so with its default of 128 a long run held ~20 MB of large prepared statements."""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

from sqlalchemy import select

from monitor.storage.db import Database
from monitor.storage.models import StoredMessage


def _sqlite_memory() -> int:
    """Bytes SQLite has allocated in this process (the library the sqlite3 module is linked to)."""
    library = ctypes.CDLL(ctypes.util.find_library("sqlite3"))
    library.sqlite3_memory_used.restype = ctypes.c_int64
    return int(library.sqlite3_memory_used())


def test_prepared_statements_of_many_in_list_lengths_are_not_all_kept(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    db.upgrade()
    with db.read() as session:
        session.execute(select(StoredMessage.id).where(StoredMessage.external_id.in_(["warm"]))).all()
    before = _sqlite_memory()
    with db.read() as session:
        for length in range(300, 500):  # 200 SQL texts, each a prepared statement of ~10-20 KB
            ids = [f"m{i}" for i in range(length)]
            session.execute(select(StoredMessage.id).where(StoredMessage.external_id.in_(ids))).all()
    grown = _sqlite_memory() - before
    assert grown < 3_000_000, f"SQLite memory grew {grown:,} bytes over 200 statements"
