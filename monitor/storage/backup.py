"""Consistent SQLite backups with the online backup API; verify; restore under an exclusive lock.

* ``backup``: ``sqlite3.Connection.backup`` copies every page inside one read transaction, so the
  copy is consistent while the daemon keeps writing (never ``cp`` a live WAL database). Written to a
  temporary file, fsynced, then renamed: a crash leaves no half backup under the final name.
* ``verify``: ``PRAGMA integrity_check`` plus the schema revision (a revision this yuqing ships).
* ``restore``: refused while any other connection has the database open — the check is an
  exclusive lock attempt (``locking_mode=EXCLUSIVE`` + ``BEGIN EXCLUSIVE``, which in WAL mode fails
  while another connection holds the shared memory) — and the lock is kept for the whole restore.
  The current database is first saved beside it (``<name>.before-restore-<time>``), then the backup's
  pages are copied *into* the locked file, so the file keeps its identity and permissions.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


class BackupError(Exception):
    """A backup, verify or restore that cannot proceed; the message says why (Chinese, English)."""


@dataclass(frozen=True, slots=True)
class Verified:
    path: Path
    integrity: str  # "ok" or SQLite's first complaint
    revision: str | None
    known: bool  # the revision is one this yuqing ships

    @property
    def ok(self) -> bool:
        return self.integrity == "ok" and self.known


def backup(database: Path, target: Path) -> Path:
    """Copy ``database`` to ``target`` consistently (temp file, fsync, rename)."""
    if not database.exists():
        raise BackupError(f"数据库不存在 / no database at {database}")
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        with closing(sqlite3.connect(database, timeout=30)) as source, closing(sqlite3.connect(temporary)) as copy:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.chmod(temporary, 0o600)  # a backup holds customer data: owner only
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def verify(path: Path, known_revisions: list[str]) -> Verified:
    """Integrity check and schema revision of a backup file (opened read-only)."""
    if not path.is_file():
        raise BackupError(f"文件不存在 / no such file: {path}")
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            integrity = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
            try:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            except sqlite3.DatabaseError:
                row = None
    except sqlite3.DatabaseError as exc:
        return Verified(path, f"not a SQLite database: {exc}", None, False)
    revision = str(row[0]) if row else None
    return Verified(path, integrity, revision, revision in known_revisions)


def restore(backup_file: Path, database: Path, known_revisions: list[str], *, now: datetime) -> Path:
    """Replace ``database``'s content with ``backup_file``; returns where the old content was kept."""
    checked = verify(backup_file, known_revisions)
    if not checked.ok:
        raise BackupError(
            f"备份未通过校验 / backup failed verification: integrity={checked.integrity}, revision={checked.revision}"
        )
    if not database.exists():
        raise BackupError(f"数据库不存在 / no database at {database}")
    aside = database.with_name(f"{database.name}.before-restore-{now.strftime('%Y%m%dT%H%M%S')}")
    with closing(sqlite3.connect(database, timeout=0, isolation_level=None)) as live:
        live.execute("PRAGMA locking_mode=EXCLUSIVE")
        try:
            live.execute("BEGIN EXCLUSIVE")
            live.execute("COMMIT")  # exclusive locking mode keeps the lock until the connection closes
        except sqlite3.OperationalError:
            raise BackupError(
                f"数据库正在使用 / {database} is in use (a daemon or another command has it open): 请先停止 yuqing"
                " (systemctl stop yuqing) / stop it first"
            ) from None
        with closing(sqlite3.connect(aside)) as kept:
            live.backup(kept)
            kept.execute("PRAGMA journal_mode=DELETE")
        with closing(sqlite3.connect(f"{backup_file.resolve().as_uri()}?mode=ro", uri=True)) as source:
            source.backup(live)
    return aside
