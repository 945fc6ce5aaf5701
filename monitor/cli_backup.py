"""``yuqing db backup | verify | restore``: SQLite online backups; dump commands for the servers."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from monitor.cli import EXIT_CONFIG, CliError, load_or_exit
from monitor.config import AppConfig
from monitor.storage.backup import BackupError, backup, restore, verify
from monitor.storage.db import Database, sqlite_file

EXIT_FAILED = 1


def _sqlite_or_command(config: AppConfig, action: str, file: str) -> Path:
    """The SQLite file, or a CliError naming the server's own tool for ``action``."""
    path = sqlite_file(config.database_url)
    if path is not None:
        return path
    url = make_url(config.database_url)
    host, port, user, name = url.host or "127.0.0.1", url.port, url.username or "", url.database or ""
    if url.get_backend_name() == "postgresql":
        commands = {
            "backup": f"pg_dump --format=custom --host={host} --port={port or 5432} --username={user} --file={file} {name}",
            "restore": f"pg_restore --clean --if-exists --host={host} --port={port or 5432} --username={user} --dbname={name} {file}",
            "verify": f"pg_restore --list {file} > /dev/null",
        }
    else:
        commands = {
            "backup": f"mariadb-dump --single-transaction --routines --host={host} --port={port or 3306} --user={user} {name} > {file}",
            "restore": f"mariadb --host={host} --port={port or 3306} --user={user} {name} < {file}",
            "verify": f"grep -q 'Dump completed' {file}",
        }
    raise CliError(
        f"{url.get_backend_name()} 数据库请用其自带工具 / use the server's own tool (docs/deploy.md §5): {commands[action]}"
    )


def _known(config: AppConfig) -> list[str]:
    db = Database(config.database_url)
    try:
        return db.revisions()
    finally:
        db.dispose()


def cmd_backup(args: argparse.Namespace) -> int:
    config = load_or_exit(args)
    now = datetime.now(UTC)
    directory = Path(args.to) if args.to else config.backups.directory(config.state_dir)
    name = f"yuqing-{now:%Y%m%dT%H%M%SZ}"
    database = _sqlite_or_command(config, "backup", str(directory / f"{name}.dump"))
    if directory.exists() and not directory.is_dir():
        raise CliError(f"不是目录 / not a directory: {directory}")
    try:
        made = backup(database, directory / f"{name}.db")
    except (BackupError, OSError) as exc:
        raise CliError(str(exc)) from None
    checked = verify(made, _known(config))
    print(f"{made}  integrity={checked.integrity} revision={checked.revision}")
    return 0 if checked.ok else EXIT_FAILED


def cmd_verify(args: argparse.Namespace) -> int:
    config = load_or_exit(args)
    _sqlite_or_command(config, "verify", args.file)
    try:
        checked = verify(Path(args.file), _known(config))
    except BackupError as exc:
        raise CliError(str(exc)) from None
    state = "OK" if checked.ok else "FAILED"
    print(f"{checked.path}: {state} integrity={checked.integrity} revision={checked.revision} known={checked.known}")
    return 0 if checked.ok else EXIT_FAILED


def cmd_restore(args: argparse.Namespace) -> int:
    config = load_or_exit(args)
    database = _sqlite_or_command(config, "restore", args.file)
    try:
        aside = restore(Path(args.file), database, _known(config), now=datetime.now(UTC))
    except BackupError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None
    print(f"restored {database} from {args.file}; 原数据库保存在 / previous database kept at {aside}")
    return 0


def register(db_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    made = db_sub.add_parser("backup", help="consistent online backup of the SQLite database (servers: prints the dump command)")
    made.add_argument("--to", help="directory (default backups.dir or <state_dir>/backups)")
    made.set_defaults(func=cmd_backup)
    check = db_sub.add_parser("verify", help="integrity check and schema revision of a backup file")
    check.add_argument("file")
    check.set_defaults(func=cmd_verify)
    back = db_sub.add_parser("restore", help="restore a backup (refused while the daemon has the database open)")
    back.add_argument("file")
    back.set_defaults(func=cmd_restore)
