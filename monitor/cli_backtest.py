"""``yuqing rules backtest``: run candidate rules over stored messages, show what would change.

Two baselines:

* ``live`` (the default with ``--rules``): the configured rules run again over the same messages.
  The difference is exactly what the edit changes - unchanged rules never show up - no matter
  what else changed since the messages came in (a retrained sentiment model, a newer release).
* ``stored`` (the default without ``--rules``): what fired when each message was ingested. Rows
  stored before per-rule alert flags were recorded count a stored rule as alerting when the
  message alerted and the rule alerts in the configured rules.

Examples show the ticket code (or the message row) and an excerpt around the keyword with phones,
ID numbers and e-mail addresses masked.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.alerts.masking import mask_personal_data
from monitor.analysis.backtest import Outcome, compare
from monitor.analysis.engine import Engine, load_analyzer
from monitor.cli import load_or_exit, open_database
from monitor.errors import ConfigError
from monitor.message import Message
from monitor.storage.convert import to_message
from monitor.storage.models import Source, StoredMessage, Ticket, utcnow

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
) -> Iterator[tuple[Message, dict[str, Any], str]]:
    """Stored messages (as Messages) with their stored analysis and a reference people know:
    the ticket code, else the message row (``消息 #12``)."""
    query = (
        select(StoredMessage, Source.name, Ticket.code)
        .join(Source, StoredMessage.source_id == Source.id)
        .outerjoin(Ticket, StoredMessage.ticket_id == Ticket.id)
        .where(StoredMessage.ingested_at >= since)
        .order_by(StoredMessage.id)
        .execution_options(yield_per=1000)
    )
    if source:
        query = query.where(Source.name == source)
    for row, source_name, code in session.execute(query):
        ref = code or f"消息 message #{row.id}"
        yield to_message(row, source_name), dict(row.analysis or {}), ref


def stored_outcome(record: dict[str, Any], live: Engine) -> Outcome:
    """What fired and alerted at ingestion, from the stored analysis record."""
    fired = frozenset(str(r) for r in record.get("rules") or [])
    if "alerts" in record:
        return Outcome(fired, frozenset(str(r) for r in record["alerts"] or []))
    if not record.get("alert"):
        return Outcome(fired, frozenset())
    alerting = {rule.id for rule in live.rules if rule.outputs.alert}
    return Outcome(fired, fired & alerting)


def _load(paths: list[Path], config: Any, label: str) -> Engine | None:
    sentiment = config.rules.sentiment.settings() if config.rules.sentiment else None
    try:
        return load_analyzer(paths, sentiment=sentiment)
    except ConfigError as exc:
        print(
            f"{label}规则无效 {label} rules are invalid（{len(exc.issues)} 个错误 error(s)）:",
            file=sys.stderr,
        )
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return None


def cmd_backtest(args: argparse.Namespace) -> int:
    config = load_or_exit(args)
    live_paths = list(config.rules.paths)
    candidate_paths = [Path(p) for p in args.rules] if args.rules else live_paths
    baseline = args.baseline or ("live" if args.rules else "stored")
    live = _load(live_paths, config, "当前 live ")
    candidate = _load(candidate_paths, config, "候选 candidate ") if args.rules else live
    if live is None or candidate is None:
        return 2
    db = open_database(config)
    # compare() finishes each message before it asks for the next: keep only the current row's data
    current: dict[str, Any] = {}

    def messages() -> Iterator[Message]:
        with db.read() as session:
            for message, record, ref in stored_messages(session, args.since, args.source):
                current.update(record=record, ref=ref)
                yield message

    def before(message: Message) -> Outcome:
        if baseline == "live":
            return Outcome.of(live(message))
        return stored_outcome(current["record"], live)

    def ref(message: Message) -> str:
        return str(current["ref"])

    print(
        f"基准 baseline: {'当前规则 live rules' if baseline == 'live' else '入库时的结果 stored at ingestion'}; "
        f"候选 candidate: {', '.join(str(p) for p in candidate_paths)}"
    )
    report = compare(messages(), before, candidate, examples=args.examples, ref=ref, mask=mask_personal_data)
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
    backtest.add_argument(
        "--baseline",
        choices=("live", "stored"),
        help="比较对象：live = 当前规则重跑（有 --rules 时默认），stored = 入库时的结果（否则默认）"
        " / compare with the configured rules run again, or with what was stored at ingestion",
    )
    backtest.add_argument("--examples", type=int, default=3, help="每条规则显示几条例子 / examples per rule")
    backtest.set_defaults(func=cmd_backtest)
