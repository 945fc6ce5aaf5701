"""Engine and session set-up, and schema upgrades through Alembic.

SQLite runs in WAL mode with ``BEGIN IMMEDIATE`` transactions: a writer takes the lock at the
start of its transaction, so two writers queue on ``busy_timeout`` instead of dead-locking on a
read-to-write upgrade. Sessions from :meth:`Database.read` never commit, so they begin deferred
(plain ``BEGIN``): in WAL mode a reader sees a snapshot and neither waits for nor blocks the
writer (measured: the intake's key and Idempotency-Key lookups queued behind every pipeline
transaction). PostgreSQL and MariaDB use the URL as given.

Alembic (~9 MB of resident memory with Mako) is imported only when a migration really runs: the
schema revision is read with a plain ``SELECT`` on ``alembic_version`` and the revisions this code
ships are read from the migration files' ``revision``/``down_revision`` lines, so a daemon started
on a current schema never loads it (issue 16, memory).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).with_name("migrations")
READ_ONLY = "yuqing_read_only"  # execution option of the engine behind Database.read()


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let us emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        reading = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _sqlite_setup(engine)
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
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.reader = self.engine.execution_options(**{READ_ONLY: True})  # connections that never commit
        self.readers = sessionmaker(self.reader, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on error."""
        with self.sessions() as session, session.begin():
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

    def dispose(self) -> None:
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
