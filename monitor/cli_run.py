"""``yuqing run``, ``check-config`` and ``db upgrade``."""

from __future__ import annotations

import argparse
import sys

import structlog

from monitor.cli import EXIT_CONFIG, config_path, load_or_exit
from monitor.errors import ConfigError
from monitor.logging import configure_logging


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
    daemon.runtime.db.upgrade()
    log.info("database", url=daemon.runtime.db.masked_url)
    return daemon.run_once() if args.once else daemon.run_forever()


def cmd_check_config(args: argparse.Namespace) -> int:
    from monitor.analysis.lint import ime_slips
    from monitor.runtime import Runtime

    config = load_or_exit(args)
    problems: list[str] = []
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
    for item in ime_slips(runtime.rules.paths):  # valid YAML, but a keyword that can never fire
        print(f"  警告 warning: {item.issue}", file=sys.stderr)
    if not args.no_connect:
        for name, connector in runtime.connectors.items():
            problems += [f"sources.{name}: {p}" for p in connector.check()]
        for name, sender in runtime.senders.items():
            problems += [f"alerts.targets.{name}: {p}" for p in sender.check()]
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


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run the daemon in the foreground")
    run.add_argument("--once", action="store_true", help="poll every source once, deliver alerts and exit")
    run.set_defaults(func=cmd_run)
    check = sub.add_parser("check-config", help="validate the configuration and connect to every source")
    check.add_argument("--no-connect", action="store_true", help="only validate, do not connect")
    check.set_defaults(func=cmd_check_config)
    db = sub.add_parser("db", help="database administration")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply schema migrations")
    upgrade.set_defaults(func=cmd_db_upgrade)
