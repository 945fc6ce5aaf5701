"""``yuqing`` command line: run the daemon, check configuration, inspect tickets and quarantine."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from monitor import __version__
from monitor.config import AppConfig, load_config
from monitor.errors import ConfigError

if TYPE_CHECKING:
    from monitor.storage.db import Database

EXIT_CONFIG = 2
CONFIG_HELP = "configuration file (default: $YUQING_CONFIG, ./yuqing.yaml, /etc/yuqing/yuqing.yaml)"
DEFAULT_CONFIGS = (Path("yuqing.yaml"), Path("/etc/yuqing/yuqing.yaml"))


def config_path(args: argparse.Namespace) -> Path:
    if args.config:
        return Path(args.config)
    if os.environ.get("YUQING_CONFIG"):
        return Path(os.environ["YUQING_CONFIG"])
    for candidate in DEFAULT_CONFIGS:
        if candidate.exists():
            return candidate
    return DEFAULT_CONFIGS[0]


def load_or_exit(args: argparse.Namespace) -> AppConfig:
    """Load the configuration or print every error and exit 2."""
    path = config_path(args)
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"{path}: configuration is invalid ({len(exc.issues)} error(s)):", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


class CliError(Exception):
    """A mistake the user can fix: printed as one line (Chinese, then English), no traceback."""

    def __init__(self, message: str, code: int = EXIT_CONFIG) -> None:
        super().__init__(message)
        self.code = code


def open_database(config: AppConfig) -> Database:
    """The configured database, refused unless its schema is exactly this version's.

    Only ``yuqing db upgrade`` and ``yuqing run`` migrate: a read-only or admin command must never
    create an empty database behind a mistyped ``state_dir`` nor migrate a production database under
    a running daemon of another version.
    """
    from monitor.storage.db import Database, sqlite_file

    path = sqlite_file(config.database_url)
    if path is not None and not path.exists():
        raise CliError(f"数据库不存在 / no database at {path} — 请检查 state_dir，或先运行 `yuqing db upgrade`")
    db = Database(config.database_url)
    state = db.schema()
    if state.status == "current":
        return db
    db.dispose()
    hints = {
        "missing": "数据库尚未初始化 / the database has no yuqing schema — 请运行 `yuqing db upgrade`",
        "older": f"数据库版本 {state.current} 旧于本程序 ({state.head}) / schema is older than this yuqing"
        " — 请运行 `yuqing db upgrade`",
        "newer": f"数据库版本 {state.current} 新于本程序 ({state.head}) / schema is newer than this yuqing"
        " — 请升级 yuqing",
    }
    raise CliError(f"{db.masked_url}: {hints[state.status]}")


def positive_int(value: str) -> int:
    """argparse type: an integer ≥ 1 (limits, days)."""
    number = _integer(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"须为正整数 / must be a positive integer: {value!r}")
    return number


def non_negative_int(value: str) -> int:
    """argparse type: an integer ≥ 0 (offsets)."""
    number = _integer(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"不能为负数 / must not be negative: {value!r}")
    return number


_INT_MAX = 2**63 - 1  # the databases' BIGINT


def _integer(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"须为整数 / not an integer: {value!r}") from None
    if number > _INT_MAX:
        raise argparse.ArgumentTypeError(f"数字太大 / too large: {value!r}")
    return number


def cmd_version(_args: argparse.Namespace) -> int:
    print(f"yuqing {__version__}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from monitor import cli_admin, cli_auth, cli_run
    from monitor.rule_config import load_rule_source

    parser = argparse.ArgumentParser(prog="yuqing", description="輿情 feedback and public-opinion monitor")
    parser.add_argument("-c", "--config", help=CONFIG_HELP)
    parser.set_defaults(rule_source=load_rule_source)  # rule commands read the config's rule paths
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cli_run.register(sub)
    cli_admin.register(sub)
    version = sub.add_parser("version", help="print the version")
    version.set_defaults(func=cmd_version)
    _register_optional(sub)
    _accept_config_everywhere(parser)
    cli_auth.install(parser)
    return parser


def _accept_config_everywhere(parser: argparse.ArgumentParser) -> None:
    """``--config`` works before or after any (sub)command: ``yuqing tickets list --config x``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in set(action.choices.values()):
                if not any("--config" in a.option_strings for a in child._actions):
                    child.add_argument("-c", "--config", default=argparse.SUPPRESS, help=CONFIG_HELP)
                _accept_config_everywhere(child)


# Modules that contribute subcommands through ``register(subparsers)``.
COMMAND_MODULES = (
    "monitor.analysis.cli",
    "monitor.importer",
    "monitor.cli_incidents",
    "monitor.cli_alerts",
    "monitor.cli_sla",
    "monitor.cli_survey",
    "monitor.cli_feedback",
    "monitor.cli_reports",
    "monitor.cli_kb",
    "monitor.cli_status",
    "monitor.cli_intake",
)


def _register_optional(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        if hasattr(module, "register"):
            module.register(sub)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "permission", None) is not None:
        from monitor.cli_auth import check

        args.actor = check(args, load_or_exit(args))  # before the command opens anything
    try:
        result: int = args.func(args)
    except BrokenPipeError:
        return 0
    except CliError as exc:
        print(f"yuqing {args.command}: {exc}", file=sys.stderr)
        return exc.code
    return result


if __name__ == "__main__":
    # ``python -m monitor.cli``: run the imported module's main, so that the exception classes
    # other modules raise (``monitor.cli.CliError``) are the ones it catches, not ``__main__``'s.
    from monitor.cli import main as _main

    raise SystemExit(_main())
