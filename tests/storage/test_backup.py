"""``yuqing db backup | verify | restore`` and the scheduled daily/weekly backups with retention."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from monitor.cli import main
from monitor.reports.jobs import scheduled_backup
from monitor.reports.settings import BackupsConfig
from monitor.storage.backup import backup, verify
from monitor.storage.db import Database
from tests.helpers.seed import seed


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path, Database]:
    database = tmp_path / "state" / "yuqing.db"
    db = Database(f"sqlite:///{database}")
    db.upgrade()
    seed(db.engine, 500)
    config = tmp_path / "yuqing.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\n", encoding="utf-8")
    return config, database, db


def _count(path: Path, table: str = "ticket_events") -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_backup_is_consistent_while_the_daemon_writes(site: tuple[Path, Path, Database], tmp_path: Path) -> None:
    _, database, db = site
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            with db.transaction() as session:
                session.execute(text("INSERT INTO ticket_events (ticket_id, kind, actor, at) VALUES (1, 'note', 'w', '2026-11-01 00:00:00.000000')"))

    writer = threading.Thread(target=write)
    writer.start()
    try:
        before = _count(database)
        made = backup(database, tmp_path / "b" / "copy.db")
        after = _count(database)
    finally:
        stop.set()
        writer.join()
    assert verify(made, db.revisions()).ok
    assert before <= _count(made) <= after
    assert not Path(f"{made}-wal").exists()  # one self-contained file


def _corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[4096 * 3 : 4096 * 3 + 2048] = b"\xff" * 2048  # a page in the middle
    path.write_bytes(bytes(data))


def _unknown_revision(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")


def _not_sqlite(path: Path) -> None:
    path.write_bytes(b"not a database at all" * 100)


@pytest.mark.parametrize(
    ("spoil", "integrity_ok", "known"),
    [(_corrupt, False, None), (_unknown_revision, True, False), (_not_sqlite, False, False)],
    ids=["corrupt-page", "unknown-revision", "not-sqlite"],
)
def test_verify_refuses_damaged_or_foreign_backups(site: tuple[Path, Path, Database], tmp_path: Path, spoil: object, integrity_ok: bool, known: bool | None) -> None:
    config, database, db = site
    made = backup(database, tmp_path / "b" / "copy.db")
    assert main(["-c", str(config), "db", "verify", str(made)]) == 0
    spoil(made)  # type: ignore[operator]
    checked = verify(made, db.revisions())
    assert not checked.ok
    assert (checked.integrity == "ok") is integrity_ok
    if known is not None:
        assert checked.known is known
    assert main(["-c", str(config), "db", "verify", str(made)]) == 1


HOLDER = """
import sys
from sqlalchemy import text
from monitor.storage.db import Database
db = Database(sys.argv[1])
with db.engine.connect() as conn:
    conn.execute(text("SELECT COUNT(*) FROM tickets")).scalar_one()
    print("ready", flush=True)
    sys.stdin.readline()
"""


def test_restore_is_refused_while_the_database_is_open_and_keeps_the_old_file(
    site: tuple[Path, Path, Database], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, database, db = site
    assert main(["-c", str(config), "db", "backup", "--to", str(tmp_path / "b")]) == 0
    made = Path(capsys.readouterr().out.split()[0])
    backed_up = _count(made)
    with db.transaction() as session:
        session.execute(text("DELETE FROM ticket_events WHERE id > 100"))
    db.dispose()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, f"sqlite:///{database}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        assert main(["-c", str(config), "db", "restore", str(made)]) == 2
        err = capsys.readouterr().err
        assert "正在使用" in err and "in use" in err and len(err.strip().splitlines()) == 1
        assert _count(database) == 100  # untouched
    finally:
        holder.communicate("\n", timeout=30)
    assert main(["-c", str(config), "db", "restore", str(made)]) == 0
    assert _count(database) == backed_up
    kept = list(database.parent.glob("yuqing.db.before-restore-*"))
    assert len(kept) == 1 and _count(kept[0]) == 100
    assert Database(f"sqlite:///{database}").schema().status == "current"


def test_scheduled_backups_one_a_day_weekly_kept_longer(tmp_path: Path, site: tuple[Path, Path, Database]) -> None:
    _, database, _ = site
    config = BackupsConfig(enabled=True, dir=tmp_path / "backups", keep_daily=3, keep_weekly=2, hour=3)
    day = datetime(2026, 11, 2, 20, tzinfo=UTC)  # 2026-11-03 04:00 in UTC+8, a Tuesday
    made = []
    for offset in range(20):
        now = day + timedelta(days=offset)
        made.append(scheduled_backup(database, config, tmp_path, now, 8))
        assert scheduled_backup(database, config, tmp_path, now + timedelta(hours=1), 8) is None  # once a day
    assert all(made)
    assert scheduled_backup(database, config, tmp_path, datetime(2026, 11, 30, 18, tzinfo=UTC), 8) is None  # 02:00: not yet
    daily = sorted(p.name for p in (tmp_path / "backups" / "daily").iterdir())
    assert daily == ["yuqing-2026-11-20.db", "yuqing-2026-11-21.db", "yuqing-2026-11-22.db"]
    weekly = sorted(p.name for p in (tmp_path / "backups" / "weekly").iterdir())
    assert weekly == ["yuqing-2026-W46.db", "yuqing-2026-W47.db"]
    assert verify(tmp_path / "backups" / "weekly" / weekly[-1], Database(f"sqlite:///{database}").revisions()).ok


@pytest.mark.parametrize(
    ("url", "tool"),
    [
        ("postgresql+psycopg://yuqing@db.internal:5432/yuqing", "pg_dump --format=custom"),
        ("mysql+pymysql://yuqing@db.internal:3306/yuqing", "mariadb-dump --single-transaction"),
    ],
    ids=["postgresql", "mariadb"],
)
def test_server_databases_get_their_own_dump_command(tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, tool: str) -> None:
    config = tmp_path / "yuqing.yaml"
    config.write_text(f"state_dir: {tmp_path}\ndatabase:\n  url: {url}\n", encoding="utf-8")
    assert main(["-c", str(config), "db", "backup", "--to", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert tool in err and "db.internal" in err
    assert not (tmp_path / "b").exists()
