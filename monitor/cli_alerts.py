"""``yuqing alerts ...``: the alert command group.

``alerts route-test`` is the dry run of the route tree (like ``amtool config routes test``): a
text (analysed with the configured rules) or a stored message, optionally with ``--priority``,
``--tags``, ``--channel``, ``--source`` or ``--kind`` forced, shows the matched route(s), the
receivers, who is on call now and the escalation timeline. Nothing is stored or sent.

Other ``alerts`` subcommands register on the same group: add a parser to the ``alerts``
subparsers returned by :func:`alerts_group` (see :func:`register`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.cli import CliError, load_or_exit, open_database, positive_int
from monitor.errors import ConfigError
from monitor.findings import Analysis
from monitor.message import Message
from monitor.stored import MessageRow, NewMessage
from monitor.stories.observe import subject_of
from monitor.stories.queue import wanted
from monitor.stories.routes import Routing, Subject
from monitor.stories.settings import StoriesSettings

EXIT_NOT_FOUND = 3


def _duration(seconds: float) -> str:
    """``4h``, ``15m``, ``4h3s``, ``0s``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = "".join(f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if n)
    return text or "0s"


@dataclass(frozen=True)
class Step:
    after: timedelta
    label: str
    people: list[str]
    targets: list[str]


def timeline(
    settings: StoriesSettings, routing: Routing, priority: str | None, at: datetime, kind: str = "ticket"
) -> list[Step]:
    """When each notification of a new story would go out, and to whom."""
    first = at + timedelta(seconds=routing.group_wait)
    receivers = wanted(settings.targets, routing.receivers, priority)
    oncall, team = settings.oncall, routing.oncall
    if kind in ("review", "operator"):
        return [
            Step(timedelta(0), "一次通知，不分组不升级 one notice, not grouped or escalated", [], receivers)
        ]
    if oncall is None or team is None or team not in oncall.config.teams:
        steps = [Step(timedelta(seconds=routing.group_wait), "首次通知 first notification", [], receivers)]
        steps.append(
            Step(
                timedelta(seconds=routing.group_wait + routing.repeat_interval),
                f"未确认则每 {_duration(routing.repeat_interval)} 重复 repeat until acknowledged",
                [],
                receivers,
            )
        )
        return steps
    out: list[Step] = []
    chain = oncall.team(team).escalation
    for index, step in enumerate(chain):
        when = first + timedelta(minutes=step.after_minutes)
        people = oncall.step_recipients(team, index, when)
        targets = [t for p in people for t in oncall.people[p].targets]
        if index == 0:
            targets = list(dict.fromkeys([*receivers, *targets]))
        label = "首次通知 first notification" if index == 0 else "未确认则升级 escalate if unacknowledged"
        out.append(
            Step(
                when - at,
                f"{label} · {step.notify}",
                [oncall.people[p].name for p in people],
                wanted(settings.targets, targets, priority),
            )
        )
    repeat = oncall.team(team).repeat_minutes
    out.append(
        Step(
            out[-1].after + timedelta(minutes=repeat),
            f"此后每 {repeat:g}m 重复最后一步 then repeat the last step",
            out[-1].people,
            out[-1].targets,
        )
    )
    return out


def _subject(args: argparse.Namespace, settings: StoriesSettings, config: Any) -> tuple[Subject, str]:
    message, analysis = _input(args, config)
    item = NewMessage(MessageRow(0, message.thread_key, message.channel), message, analysis)
    kind = args.kind or ("review" if analysis.review else "ticket")
    priority = args.priority or analysis.priority
    subject = subject_of(kind, priority, [item])
    if args.tags:
        extra = frozenset(t.strip() for t in args.tags.split(",") if t.strip())
        subject = replace(subject, tags=subject.tags | extra)
    return subject, message.text


def _input(args: argparse.Namespace, config: Any) -> tuple[Message, Analysis]:
    if args.message_id is not None:
        from monitor.storage.convert import to_analysis, to_message
        from monitor.storage.models import Source, StoredMessage

        db = open_database(config)
        with db.read() as session:
            row = session.get(StoredMessage, args.message_id)
            if row is None:
                print(f"no stored message {args.message_id}", file=sys.stderr)
                raise SystemExit(EXIT_NOT_FOUND)
            source = session.get(Source, row.source_id)
            message = to_message(row, source.name if source else "")
            return _forced(args, message), to_analysis(row.analysis)
    if args.text is None:
        print("give a TEXT or --message-id", file=sys.stderr)
        raise SystemExit(2)
    from monitor.analysis.engine import load_analyzer

    message = Message(
        source=args.source or "route-test",
        external_id="route-test",
        thread_key="route-test",
        text=args.text,
        created_at=datetime.now(UTC),
        channel=args.channel or "",
    )
    try:
        analyzer = load_analyzer(config.rules.paths)
    except ConfigError as exc:
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        raise SystemExit(2) from None
    return message, analyzer(message)


def _forced(args: argparse.Namespace, message: Message) -> Message:
    changes = {k: v for k, v in (("source", args.source), ("channel", args.channel)) if v}
    return replace(message, **changes) if changes else message


def cmd_route_test(args: argparse.Namespace) -> int:
    from monitor.runtime import build_stories

    config = load_or_exit(args)
    try:
        settings = build_stories(config)
    except ConfigError as exc:
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return 2
    subject, text = _subject(args, settings, config)
    routing = settings.routes.match(subject)
    try:
        at = datetime.fromisoformat(args.at).astimezone(UTC) if args.at else datetime.now(UTC)
    except ValueError:
        raise CliError(f"时间格式不对 / not a time: {args.at!r} — 例如 e.g. 2026-12-24T09:00+08:00") from None
    steps = timeline(settings, routing, subject.priority, at, subject.kind)
    if args.json:
        json.dump(_record(subject, routing, steps, settings), sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    _print(subject, text, routing, steps, settings, at)
    return 0


def _record(
    subject: Subject, routing: Routing, steps: list[Step], settings: StoriesSettings
) -> dict[str, Any]:
    return {
        "subject": subject.record(),
        "routes": [r.path for r in routing.routes],
        "receivers": wanted(settings.targets, routing.receivers, subject.priority),
        "oncall": routing.oncall,
        "group_wait": routing.group_wait,
        "group_interval": routing.group_interval,
        "repeat_interval": routing.repeat_interval,
        "timeline": [
            {
                "after_seconds": s.after.total_seconds(),
                "step": s.label,
                "people": s.people,
                "targets": s.targets,
            }
            for s in steps
        ],
    }


def _print(
    subject: Subject, text: str, routing: Routing, steps: list[Step], settings: StoriesSettings, at: datetime
) -> None:
    record = subject.record()
    print(f"文本 Text: {text[:120]}")
    print(
        f"分析 Analysis: kind {subject.kind} · priority {subject.priority or '-'} · rules {', '.join(record['rules']) or '-'}"
        f" · type {', '.join(record['types']) or '-'} · category {', '.join(record['categories']) or '-'}"
        f" · tags {', '.join(record['tags']) or '-'}"
    )
    print("匹配路由 Matched routes:")
    for route in routing.routes:
        print(
            f"  {route.path}  receivers: {', '.join(route.receivers) or '-'}  oncall: {route.oncall or '-'}"
            f"  group_wait {_duration(route.group_wait)} · group_interval {_duration(route.group_interval)}"
            f" · repeat_interval {_duration(route.repeat_interval)}"
        )
    dropped = sorted(
        set(routing.receivers) - set(wanted(settings.targets, routing.receivers, subject.priority))
    )
    print(
        f"接收目标 Receivers: {', '.join(wanted(settings.targets, routing.receivers, subject.priority)) or '-'}"
        + (f" (min_priority 过滤 filtered out: {', '.join(dropped)})" if dropped else "")
    )
    _print_oncall(settings, routing, at)
    print("时间线 Timeline (from now):")
    for step in steps:
        people = f" {', '.join(step.people)}" if step.people else ""
        print(
            f"  +{_duration(step.after.total_seconds()):<7} {step.label}{people} -> {', '.join(step.targets) or '-'}"
        )


def _print_oncall(settings: StoriesSettings, routing: Routing, at: datetime) -> None:
    oncall, team = settings.oncall, routing.oncall
    if oncall is None or team is None or team not in oncall.config.teams:
        print("值班 On call: - (no on-call team on this route)")
        return
    zone = oncall.zones[team]
    print(f"值班 On call now ({team} @ {at.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}):")
    for role in oncall.roles(team):
        shift = oncall.who(team, role, at)
        name = oncall.people[shift.person].name if shift else "-"
        targets = ", ".join(oncall.people[shift.person].targets) if shift else "-"
        print(f"  {role:<10} {name} -> {targets}")


def alerts_group(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """The ``alerts`` subcommand group (created once; other modules add their commands to it)."""
    parser = sub.add_parser("alerts", help="alert routes and targets 告警路由与目标")
    return parser.add_subparsers(dest="alerts_command", required=True)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from monitor.cli_alerts_targets import add_commands

    group = alerts_group(sub)
    add_commands(group)
    test = group.add_parser("route-test", help="dry run of the route tree 路由试运行 (nothing is sent)")
    test.add_argument("text", nargs="?", help="a message text, analysed with the configured rules")
    test.add_argument("--message-id", type=positive_int, help="a stored message instead of a text")
    test.add_argument("--priority", choices=["L1", "L2", "L3"], help="force the priority")
    test.add_argument("--tags", help="extra tags, comma separated")
    test.add_argument("--channel", help="the message channel")
    test.add_argument("--source", help="the source name")
    test.add_argument(
        "--kind", choices=["ticket", "incident", "review", "operator", "sla"], help="notice kind"
    )
    test.add_argument("--at", help="ISO time for the on-call lookup (default now)")
    test.add_argument("--json", action="store_true")
    test.set_defaults(func=cmd_route_test)
