"""``yuqing rules backtest``: run candidate rules over stored messages, show what would change.

"Before" is what fired when each message was ingested (stored with the message); "after" is the
candidate rule set (``--rules``, default: the configured rule paths). A rule change can so be
judged on real traffic before it goes live.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.analysis.backtest import compare
from monitor.analysis.engine import load_analyzer
from monitor.cli import load_or_exit, open_database
from monitor.errors import ConfigError
from monitor.message import Message
from monitor.storage.convert import to_message
from monitor.storage.models import Source, StoredMessage, utcnow

_SPAN = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> datetime:
    """``7d``, ``12h``, ``30m``, ``2w`` or an ISO date/time."""
    match = _SPAN.match(text.strip())
    if match:
        return utcnow() - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a span (7d, 12h) or ISO time: {text!r}") from None
    return moment if moment.tzinfo else moment.astimezone()


def stored_messages(
    session: Session, since: datetime, source: str | None
) -> Iterator[tuple[Message, list[str]]]:
    """Stored messages (as Messages) with the rule ids that fired on them at ingestion."""
    query = (
        select(StoredMessage, Source.name)
        .join(Source, StoredMessage.source_id == Source.id)
        .where(StoredMessage.ingested_at >= since)
        .order_by(StoredMessage.id)
        .execution_options(yield_per=1000)
    )
    if source:
        query = query.where(Source.name == source)
    for row, source_name in session.execute(query):
        message = to_message(row, source_name)
        yield message, list((row.analysis or {}).get("rules", []))


def cmd_backtest(args: argparse.Namespace) -> int:
    config = load_or_exit(args)
    paths = [Path(p) for p in args.rules] if args.rules else list(config.rules.paths)
    try:
        candidate = load_analyzer(paths)
    except ConfigError as exc:
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return 2
    db = open_database(config)
    fired_then: dict[str, list[str]] = {}

    def before(message: Message) -> list[str]:
        return fired_then.pop(message.source + "\0" + message.external_id, [])

    def messages() -> Iterator[Message]:
        with db.read() as session:
            for message, rules in stored_messages(session, args.since, args.source):
                fired_then[message.source + "\0" + message.external_id] = rules
                yield message

    report = compare(messages(), before, candidate)
    for line in report.lines():
        print(line)
    return 0


def register_rules(rules_subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backtest = rules_subparsers.add_parser(
        "backtest",
        help="用新规则重跑已存消息，显示告警差异 / rerun rules over stored messages, show what changes",
    )
    backtest.add_argument(
        "--since", type=parse_since, default="7d", help="7d, 12h, 30m, 2w or ISO time (default 7d)"
    )
    backtest.add_argument("--source", help="only this source")
    backtest.add_argument(
        "--rules", action="append", help="candidate rule directory or file (default: configured)"
    )
    backtest.set_defaults(func=cmd_backtest)
