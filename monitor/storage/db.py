"""Engine and session set-up, and schema upgrades through Alembic.

SQLite runs in WAL mode with ``BEGIN IMMEDIATE`` transactions: a writer takes the lock at the
start of its transaction, so two writers queue on ``busy_timeout`` instead of dead-locking on a
read-to-write upgrade. Writers of one process first take turns on a :class:`WriteTurns` lock: a
waiter is woken the moment the turn is free (SQLite's busy handler polls, sleeping up to 100 ms
between tries), and an ``urgent`` transaction - an intake group with HTTP requests waiting for it -
goes before waiting poll batches. Sessions from :meth:`Database.read` never commit, so they begin deferred
(plain ``BEGIN``): in WAL mode a reader sees a snapshot and neither waits for nor blocks the
writer (measured: the intake's key and Idempotency-Key lookups queued behind every pipeline
transaction). PostgreSQL and MariaDB use the URL as given.

Alembic (~9 MB of resident memory with Mako) is imported only when a migration really runs: the
schema revision is read with a plain ``SELECT`` on ``alembic_version`` and the revisions this code
ships are read from the migration files' ``revision``/``down_revision`` lines, so a daemon started
on a current schema never loads it (issue 16, memory). The daemon runs a migration that is due
in a child process (:meth:`Database.upgrade_in_child`), so a first start on an empty database or
the first start after an upgrade does not keep Alembic and the migration modules resident for the
daemon's lifetime either (measured: +13 MB of peak RSS on a fresh SQLite database).
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from monitor.storage.wal import BACKSTOP_PAGES, WalCheckpointer

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).with_name("migrations")
# Prepared statements the sqlite3 module keeps per connection (its default: 128). The IN-lists
# and multi-row INSERTs of a batch make a new SQL text per list length, some of them hundreds of KB
# prepared; 128 of them held 20 MB of SQLite memory after 2,000 long mails, growing with the
# number of batches seen (issue 16: peak RSS 229 -> 215 MB with 16). SQLAlchemy caches the compiled
# SQL itself, so a re-prepare costs only SQLite's parse.
SQLITE_STATEMENTS = 16
READ_ONLY = "yuqing_read_only"  # execution option of the engine behind Database.read()


@dataclass
class SqliteTuning:
    """Settings each new SQLite connection gets; :meth:`Database.checkpoint_in_background`
    changes them (and drops the pooled connections, so every connection has them)."""

    autocheckpoint: int = 1000  # SQLite's default: a checkpoint inside the commit past 1,000 log pages


def _sqlite_setup(engine: Engine, tuning: SqliteTuning) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let us emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA wal_autocheckpoint={int(tuning.autocheckpoint)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        reading = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


class WriteTurns:
    """The turn of this process's writers on a SQLite database (whose lock is per database).

    Reentrant for the thread holding it. A free turn is taken at once; on release the next turn goes
    to an urgent waiter if there is one, else to the first other waiter to wake - but a waiter that
    has waited ``patience`` seconds is not passed over any more, so a steady urgent stream cannot
    starve the poll batches. A waiter gives up after ``timeout`` seconds with the error SQLite's
    own busy timeout gives (``database is locked``), never waiting for ever."""

    def __init__(self, patience: float = 0.25, timeout: float = 30.0) -> None:
        self.patience, self.timeout = patience, timeout
        self._cond = threading.Condition()
        self._owner: int | None = None
        self._depth = 0
        self._urgent = 0
        self._overdue = 0

    @contextmanager
    def turn(self, *, urgent: bool = False) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
            else:
                self._wait(me, urgent=urgent)
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if not self._depth:
                    self._owner = None
                    self._cond.notify_all()

    def _wait(self, me: int, *, urgent: bool) -> None:
        """Called holding the condition; returns owning the turn."""
        self._urgent += urgent
        since, overdue = time.monotonic(), False
        try:
            while self._owner is not None or self._passed_over(urgent=urgent, overdue=overdue):
                waited = time.monotonic() - since
                if waited >= self.timeout:
                    self._cond.notify_all()  # waiters held back for this one look again
                    locked = sqlite3.OperationalError("database is locked")
                    raise OperationalError("BEGIN IMMEDIATE (this process's write turn)", None, locked)
                if not urgent and not overdue and waited >= self.patience:
                    overdue = True
                    self._overdue += 1
                    continue
                until = self.timeout if urgent or overdue else self.patience
                self._cond.wait(until - waited)
        finally:
            self._urgent -= urgent
            self._overdue -= overdue
        self._owner, self._depth = me, 1

    def _passed_over(self, *, urgent: bool, overdue: bool) -> bool:
        """A free turn is left to another waiter: to an urgent one, or, for an urgent waiter, to
        one that has waited too long."""
        if urgent:
            return self._overdue > 0
        return not overdue and self._urgent > 0


def make_engine(url: str, tuning: SqliteTuning | None = None) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        args = {"timeout": 30, "check_same_thread": False, "cached_statements": SQLITE_STATEMENTS}
        engine = create_engine(url, connect_args=args)
        _sqlite_setup(engine, tuning or SqliteTuning())
        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg":
        # psycopg prepares a statement server-side after 5 runs; PostgreSQL's generic plan for the
        # IN-list lookups of ingest then ignores external_id in the unique index (measured: 100-row
        # batches 103 ms instead of 64 ms at 15k messages). Plan each execution with its values.
        connect_args["prepare_threshold"] = None
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args=connect_args)


class Database:
    """One engine and a session factory; ``transaction()`` is the only way the core writes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.tuning = SqliteTuning()
        self.engine = make_engine(url, self.tuning)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.reader = self.engine.execution_options(**{READ_ONLY: True})  # connections that never commit
        self.readers = sessionmaker(self.reader, expire_on_commit=False)
        self.turns = WriteTurns() if self.engine.dialect.name == "sqlite" else None
        self.checkpointer: WalCheckpointer | None = None

    def checkpoint_in_background(self, interval: float = 0.25) -> None:
        """On a SQLite file: WAL checkpoints in a thread of their own instead of inside the commit
        that fills the log (``monitor.storage.wal``); the long-running daemon calls this. Nothing
        on other databases."""
        path = sqlite_file(self.url)
        if path is None or self.checkpointer is not None:
            return
        self.tuning.autocheckpoint = BACKSTOP_PAGES
        self.engine.dispose()  # pooled connections still have the old setting
        self.checkpointer = WalCheckpointer(path, self._turn, interval).start()

    @contextmanager
    def transaction(self, *, urgent: bool = False) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on error.

        On SQLite the writers of this process take turns first (:class:`WriteTurns`); ``urgent``
        goes before waiting non-urgent writers. Other databases lock rows, not the database."""
        turn = self.turns.turn(urgent=urgent) if self.turns is not None else nullcontext()
        with turn, self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading: never committed (whatever it changes is rolled back)."""
        with self.readers() as session:
            yield session

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent; Alembic is loaded only if needed)."""
        known = shipped_revisions()
        if known and self.current_revision() == known[-1]:
            return
        from alembic import command

        with self.engine.begin() as connection:
            cfg = alembic_config(self.url)
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")

    def upgrade_in_child(self) -> None:
        """:meth:`upgrade`, with a migration that is due run by a child Python process (the URL
        goes over stdin, never on its command line). An in-memory SQLite database is upgraded
        here: a child would see another, empty one."""
        known = shipped_revisions()
        if known and self.current_revision() == known[-1]:
            return
        if self.engine.dialect.name == "sqlite" and self.engine.url.database in (None, "", ":memory:"):
            self.upgrade()
            return
        root = str(Path(__file__).resolve().parents[2])  # the tree this module was imported from
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
        script = "import sys; from monitor.storage.db import Database; Database(sys.stdin.read()).upgrade()"
        done = subprocess.run(
            [sys.executable, "-c", script],
            input=self.url,
            text=True,
            capture_output=True,
            env=env,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"schema upgrade of {self.masked_url} failed:\n{done.stderr[-4000:]}")

    def downgrade(self, revision: str) -> None:
        """Undo migrations down to ``revision`` (``base`` removes the schema)."""
        from alembic import command

        with self.engine.begin() as connection:
            cfg = alembic_config(self.url)
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, revision)

    def current_revision(self) -> str | None:
        """The database's schema revision (``None`` when it has no yuqing schema); no writes.

        Read from Alembic's ``alembic_version`` table directly (what ``MigrationContext`` does for a
        single-head history), so no command needs Alembic to look at the schema."""
        with self.engine.connect() as connection:
            if not inspect(connection).has_table(VERSION_TABLE):
                return None
            value = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
            return str(value) if value is not None else None

    def revisions(self) -> list[str]:
        """The schema revisions this code ships, oldest first."""
        return shipped_revisions()

    def schema(self) -> SchemaState:
        """Where this database's schema stands against the migrations this code ships (no writes)."""
        known = self.revisions()
        head = known[-1] if known else None
        current = self.current_revision()
        if current is None:
            return SchemaState("missing", None, head)
        if current == head:
            return SchemaState("current", current, head)
        return SchemaState("older" if current in known else "newer", current, head)

    def _turn(self) -> AbstractContextManager[None]:
        return self.turns.turn() if self.turns is not None else nullcontext()

    def stop_checkpoints(self) -> None:
        """Stop the background checkpoints (new connections checkpoint in their commits again)."""
        if self.checkpointer is not None:
            self.checkpointer.stop()
            self.checkpointer = None
            self.tuning.autocheckpoint = SqliteTuning.autocheckpoint

    def dispose(self) -> None:
        self.stop_checkpoints()
        self.engine.dispose()

    @property
    def masked_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)


@dataclass(frozen=True, slots=True)
class SchemaState:
    """The schema revision of a database compared with the newest migration of this code."""

    status: Literal["missing", "older", "current", "newer"]
    current: str | None
    head: str | None


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (``None`` for other databases and in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


VERSION_TABLE = "alembic_version"
_REVISION = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(?P<value>None|['\"][^'\"]+['\"])", re.M)


def shipped_revisions() -> list[str]:
    """The revisions of ``migrations/versions``, oldest first, from each file's ``revision`` and
    ``down_revision`` assignments (a single linear chain, as Alembic would walk it; a test checks
    the two agree)."""
    parents: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        found = {m[1]: m["value"] for m in _REVISION.finditer(path.read_text(encoding="utf-8"))}
        if "revision" in found:
            down = found.get("down_revision", "None")
            parents[found["revision"].strip("'\"")] = None if down == "None" else down.strip("'\"")
    children = {parent: revision for revision, parent in parents.items()}
    chain: list[str] = []
    current = children.get(None)
    while current is not None and len(chain) <= len(parents):
        chain.append(current)
        current = children.get(current)
    return chain


def alembic_config(url: str) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg
