"""Alembic migrations upgrade and downgrade cleanly, with data, on SQLite, PostgreSQL and MariaDB.

From the first revision: rows written under 0001 survive every upgrade, every downgrade back to
0001 and the way up again; downgrading to ``base`` leaves no table of ours behind. Every revision
the tree ships is walked, so a new migration without a working ``downgrade()`` fails here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from monitor.storage.db import Database, alembic_config
from tests.conftest import server_database


@contextmanager
def empty_database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
    else:
        with server_database(kind) as url:
            yield url


@contextmanager
def migrating(kind: str, tmp_path: Path) -> Iterator[Database]:
    """An empty database of ``kind`` for a migration test, disposed of afterwards."""
    with empty_database(kind, tmp_path) as url:
        db = Database(url)
        try:
            yield db
        finally:
            db.dispose()


def _alembic(db: Database, action: str, revision: str) -> None:
    with db.engine.begin() as connection:
        cfg = alembic_config(db.url)
        cfg.attributes["connection"] = connection
        getattr(command, action)(cfg, revision)


def _revisions(url: str) -> list[str]:
    """Every revision from the first to head, in order."""
    script = ScriptDirectory.from_config(alembic_config(url))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


NOW = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def _seed(db: Database) -> None:
    """Rows in the tables of revision 0001, written with its columns only."""
    with db.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO sources (id, name, kind, created_at) VALUES (1, 'mail', 'imap', :now)"), {"now": NOW}
        )
        conn.execute(
            text(
                "INSERT INTO tickets (id, code, status, priority, source_id, channel, thread_key, title,"
                " created_at, updated_at) VALUES (1, 'Q000001', 'received', 'L1', 1, 'email', 't1', '紧急：无法登录',"
                " :now, :now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO messages (id, source_id, external_id, thread_key, channel, author_id, author_name,"
                " title, text, likes, reposts, replies, raw_ref, created_at, ingested_at, ticket_id)"
                " VALUES (1, 1, '<a@b>', 't1', 'email', 'c@example.com', '客户', '紧急', '紧急：无法登录', 0, 0, 0,"
                " 'INBOX/1', :now, :now, 1)"
            ),
            {"now": NOW},
        )


def _seeded_rows(db: Database) -> tuple[object, ...]:
    with db.engine.connect() as conn:
        return (
            conn.execute(text("SELECT name FROM sources WHERE id = 1")).scalar_one(),
            conn.execute(text("SELECT code FROM tickets WHERE id = 1")).scalar_one(),
            conn.execute(text("SELECT text FROM messages WHERE id = 1")).scalar_one(),
        )


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_every_migration_goes_up_and_down_with_data(kind: str, tmp_path: Path) -> None:
    with empty_database(kind, tmp_path) as url:
        db = Database(url)
        try:
            revisions = _revisions(url)
            assert revisions[0] == "0001"
            _alembic(db, "upgrade", "0001")
            _seed(db)
            expected = ("mail", "Q000001", "紧急：无法登录")
            for revision in revisions[1:]:
                _alembic(db, "upgrade", revision)
                assert _seeded_rows(db) == expected, f"data lost upgrading to {revision}"
            for revision in reversed(revisions[:-1]):
                _alembic(db, "downgrade", revision)
                assert _seeded_rows(db) == expected, f"data lost downgrading to {revision}"
            _alembic(db, "upgrade", "head")
            assert _seeded_rows(db) == expected
            assert db.current_revision() == revisions[-1]
            _alembic(db, "downgrade", "base")
            left = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
            assert left == set(), f"tables left after downgrade to base: {sorted(left)}"
        finally:
            db.dispose()


def test_db_current_and_downgrade_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.cli import main
    from tests.helpers.builders import write_config

    config = str(write_config(tmp_path / "c.yaml", {"state_dir": str(tmp_path / "state"), "sources": []}))
    head = _revisions(f"sqlite:///{tmp_path / 'state' / 'yuqing.db'}")[-1]
    assert main(["--config", config, "db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["--config", config, "db", "current"]) == 0
    assert capsys.readouterr().out.strip() == head
    assert main(["--config", config, "db", "downgrade", "0001"]) == 0
    assert "schema at 0001" in capsys.readouterr().out
    assert main(["--config", config, "db", "downgrade", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["--config", config, "db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["--config", config, "db", "current"]) == 0
    assert capsys.readouterr().out.strip() == head


def test_revisions_read_from_the_files_match_alembic(tmp_path: Path) -> None:
    """``Database.revisions`` reads the migration files without Alembic; it must walk the same chain."""
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        assert db.revisions() == _revisions(db.url)
        assert db.current_revision() is None
        db.upgrade()
        assert db.current_revision() == _revisions(db.url)[-1]
    finally:
        db.dispose()



def test_upgrade_in_child_reports_a_failed_migration(tmp_path: Path) -> None:
    """A migration that fails in the child fails the caller, with the child's error."""
    db = Database(f"sqlite:///{tmp_path / 'unknown.db'}")
    with db.engine.begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('nosuchrevision')"))
    with pytest.raises(RuntimeError, match=r"(?s)schema upgrade of .* failed:.*nosuchrevision"):
        db.upgrade_in_child()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_0019_moves_story_ticket_lists_into_rows_and_back(kind: str, tmp_path: Path) -> None:
    """Each story's JSON list of tickets becomes one row per ticket; downgrade writes the lists back."""
    with migrating(kind, tmp_path) as db:
        _alembic(db, "upgrade", "0018")
        with db.engine.begin() as conn:
            for story, tickets in ((1, "[3, 1, 2]"), (2, "[]"), (3, "[7]")):
                conn.execute(
                    text(
                        "INSERT INTO stories (id, kind, state, title, route, receivers, group_wait_s,"
                        " group_interval_s, repeat_interval_s, subject, tickets, message_count,"
                        " pending_messages, opened_at, updates, escalation_step, page_round, updated_at)"
                        " VALUES (:id, 'incident', 'open', 't', '', '[]', 0, 300, 14400, '{}', :tickets, 0, 0,"
                        " :now, 0, 0, 0, :now)"
                    ),
                    {"id": story, "tickets": tickets, "now": NOW},
                )
        _alembic(db, "upgrade", "0019")
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT story_id, ticket_id FROM story_tickets ORDER BY 1, 2")).all()
            assert [tuple(r) for r in rows] == [(1, 1), (1, 2), (1, 3), (3, 7)]
            assert "tickets" not in {c["name"] for c in inspect(conn).get_columns("stories")}
        _alembic(db, "downgrade", "0018")
        with db.engine.connect() as conn:
            lists = dict(conn.execute(text("SELECT id, tickets FROM stories ORDER BY id")).all())
        decoded = {k: v if isinstance(v, list) else json.loads(v) for k, v in lists.items()}
        assert decoded == {1: [1, 2, 3], 2: [], 3: [7]}
