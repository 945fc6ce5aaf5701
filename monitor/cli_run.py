"""``yuqing run``, ``check-config`` and ``db upgrade``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import NoReturn

import structlog

from monitor import cli_backup
from monitor.cli import EXIT_CONFIG, CliError, config_path, load_or_exit
from monitor.errors import ConfigError
from monitor.logging import configure_logging
from monitor.roles import IMPLICIT_ADMIN_WARNING


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.daemon import Daemon

    config = load_or_exit(args)
    configure_logging(config.logging.level, config.logging.format)
    log = structlog.get_logger("yuqing")
    try:
        daemon = Daemon(config_path(args), config)
    except ConfigError as exc:
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return EXIT_CONFIG
    db = daemon.runtime.db
    schema = db.schema()
    if schema.status == "newer":
        print(
            f"{db.masked_url}: 数据库版本 {schema.current} 新于本程序 ({schema.head})，拒绝运行 / the schema is newer"
            " than this yuqing: refusing to run (upgrade yuqing, or restore the matching version)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    db.upgrade_in_child()  # Alembic is not kept resident in the daemon (issue 16, memory)
    log.info("database", url=db.masked_url, schema=schema.head)
    from monitor.cli_auth import directory

    if not directory(config).roles_configured:
        log.warning("roles", problem=IMPLICIT_ADMIN_WARNING)
    code = daemon.run_once() if args.once else daemon.run_forever()
    if daemon.abandoned:
        _exit_now(code)
    return code


def _exit_now(code: int) -> NoReturn:
    """Exit without joining the poll thread still running after the stop timeout.

    Such a poll is waiting on something outside the process (a database lock held by a stalled
    peer, a server that stopped answering); Python's exit would wait for it, well past the stop
    timeout that systemd and operators rely on. Its transaction never committed, so the database
    discards it when the connection goes, the checkpoint did not advance, and the next run reads
    the batch again: nothing is lost or stored twice.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate everything (sources, every sender's settings, rules, on-call, ack links); with
    connections allowed, reach every source and every sender's endpoint without sending."""
    from monitor.analysis.lint import ime_slips
    from monitor.cli_auth import directory
    from monitor.config_checks import ack_link_problems, disabled_target_warnings
    from monitor.runtime import Runtime

    config = load_or_exit(args)
    problems, warnings = ack_link_problems(config)
    try:
        runtime = Runtime(config)
    except ConfigError as exc:
        print(
            f"规则或配置无效 rules or configuration invalid（{len(exc.issues)} 个错误 error(s)）:",
            file=sys.stderr,
        )
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return EXIT_CONFIG
    warnings += disabled_target_warnings(runtime.db)
    if not directory(config).roles_configured:
        warnings.append(IMPLICIT_ADMIN_WARNING)
    # valid YAML, but a keyword that can never fire (full-width separators from an input method)
    warnings += [str(item.issue) for item in ime_slips(runtime.rules.paths)]
    if not args.no_connect:
        for name, connector in runtime.connectors.items():
            problems += [f"sources.{name}: {p}" for p in connector.check()]
        for name, sender in runtime.senders.items():
            problems += [f"alerts.targets.{name}: {p}" for p in sender.check()]
    runtime.close()
    for warning in warnings:
        print(f"  警告 warning: {warning}", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    if problems:
        return EXIT_CONFIG
    print(
        f"{config_path(args)}: OK ({len(config.sources)} sources, {len(config.alerts.targets)} alert targets)"
    )
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from monitor.storage.db import Database

    config = load_or_exit(args)
    db = Database(config.database_url)
    db.upgrade()
    print(f"database {db.masked_url}: schema up to date")
    return 0


def cmd_db_downgrade(args: argparse.Namespace) -> int:
    """Undo migrations down to ``revision`` (rollback to an older yuqing; stop the daemon first)."""
    from alembic.util.exc import CommandError

    from monitor.storage.db import Database

    config = load_or_exit(args)
    db = Database(config.database_url)
    known = db.revisions()
    if args.revision != "base" and args.revision not in known:
        raise CliError(
            f"没有这个版本 / unknown revision {args.revision!r}: 可选 choose base or one of {', '.join(known)}"
        )
    try:
        db.downgrade(args.revision)
    except CommandError as exc:
        print(f"db downgrade: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(f"database {db.masked_url}: schema at {db.current_revision()}")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    from monitor.storage.db import Database

    config = load_or_exit(args)
    db = Database(config.database_url)
    print(db.current_revision() or "(empty: no yuqing schema)")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run the daemon in the foreground")
    run.add_argument("--once", action="store_true", help="poll every source once, deliver alerts and exit")
    run.set_defaults(func=cmd_run)
    check = sub.add_parser(
        "check-config", help="validate the configuration and reach every source and alert target"
    )
    check.add_argument("--no-connect", action="store_true", help="only validate, do not connect")
    check.set_defaults(func=cmd_check_config)
    db = sub.add_parser("db", help="database administration")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply schema migrations")
    upgrade.set_defaults(func=cmd_db_upgrade)
    downgrade = db_sub.add_parser("downgrade", help="undo migrations down to REVISION (rollback; daemon stopped)")
    downgrade.add_argument("revision", help="e.g. 0003, or base")
    downgrade.set_defaults(func=cmd_db_downgrade)
    current = db_sub.add_parser("current", help="print the database's schema revision")
    current.set_defaults(func=cmd_db_current)
    cli_backup.register(db_sub)  # backup, verify, restore
