"""``yuqing ack|resolve|incidents|oncall|silence|review``: act on incidents from where staff are."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from monitor.cli import CliError, load_or_exit, open_database, positive_int
from monitor.config import AppConfig
from monitor.errors import ConfigError
from monitor.storage.db import Database
from monitor.storage.models import Incident, Silence, Ticket, utcnow

EXIT_NOT_FOUND = 3


def _setup(args: argparse.Namespace) -> tuple[AppConfig, Database]:
    config = load_or_exit(args)
    return config, open_database(config)


def _stories(config: AppConfig) -> Any:
    from monitor.runtime import build_stories

    try:
        return build_stories(config)
    except ConfigError as exc:
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        raise SystemExit(2) from None


def _actor(args: argparse.Namespace) -> str:
    """The actor ``monitor.cli_auth.check`` resolved (a people id) before the command ran."""
    return str(args.actor)


def cmd_ack(args: argparse.Namespace) -> int:
    """``yuqing ack|resolve REF``: one meaning for tickets and incidents (``monitor.stories.lifecycle``)."""
    from monitor.stories.lifecycle import StoryStateError, UnknownStory, act
    from monitor.tickets.service import TransitionError, set_status

    config = load_or_exit(args)
    actor = _actor(args)
    db = open_database(config)
    state = "acknowledged" if args.command == "ack" else "resolved"
    try:
        result = act(db, _stories(config), args.ref, state, actor=actor, now=utcnow(), note=args.note)
        moved = (
            f" · {result.tickets} 个工单 tickets -> {'processing' if state == 'acknowledged' else 'resolved'}"
        )
        print(
            f"{result.code}: {result.state}{'' if result.changed else ' (unchanged)'}{moved if result.tickets else ''}"
        )
        return 0
    except UnknownStory:
        pass
    except StoryStateError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    with db.transaction() as session:  # a ticket that never paged: move the ticket itself
        ticket = session.scalar(select(Ticket).where(Ticket.code == args.ref.upper()))
        if ticket is None:
            print(f"no incident or ticket {args.ref}", file=sys.stderr)
            return EXIT_NOT_FOUND
        status = "processing" if args.command == "ack" else "resolved"
        if ticket.status != status:
            try:
                set_status(session, ticket, status, actor=actor, note=args.note)
            except TransitionError as exc:
                print(str(exc), file=sys.stderr)
                return 1
        print(f"{ticket.code}: {ticket.status}")
    return 0


def cmd_story_show(args: argparse.Namespace) -> int:
    """A story's state, who was told, and its trail with every note."""
    from monitor.storage.models import StoryEvent
    from monitor.stories import members
    from monitor.stories.compose import story_code
    from monitor.stories.lifecycle import find_story

    _, db = _setup(args)
    with db.read() as session:
        story = find_story(session, args.ref)
        if story is None:
            print(f"no story for {args.ref}", file=sys.stderr)
            return EXIT_NOT_FOUND
        record: dict[str, Any] = {
            "code": story_code(session, story),
            "kind": story.kind,
            "state": story.state,
            "severity": story.severity,
            "title": story.title,
            "route": story.route,
            "team": story.team,
            "receivers": story.receivers,
            "tickets": members.count(session, story.id),
            "messages": story.message_count,
            "events": [
                {
                    "at": e.at.isoformat(),
                    "kind": e.kind,
                    "old": e.old_value,
                    "new": e.new_value,
                    "actor": e.actor,
                    "note": e.note,
                }
                for e in session.scalars(
                    select(StoryEvent).where(StoryEvent.story_id == story.id).order_by(StoryEvent.id)
                )
            ],
        }
    if args.json:
        json.dump(record, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    print(
        f"{record['code']} [{record['kind']}] {record['state']} {record['severity'] or '-'} {record['title']}"
    )
    print(
        f"  路由 route: {record['route']} · 值班 team: {record['team'] or '-'} · 接收 receivers: {', '.join(record['receivers']) or '-'}"
    )
    for e in record["events"]:
        note = f" — 备注 note: {e['note']}" if e["note"] else ""
        print(f"  {e['at'][:19]} {e['kind']:<12} {e['old'] or ''}->{e['new'] or ''} by {e['actor']}{note}")
    return 0


def incident_record(incident: Incident) -> dict[str, Any]:
    return {
        "code": incident.code,
        "state": incident.state,
        "severity": incident.severity,
        "title": incident.title,
        "reason": incident.reason,
        "team": incident.team,
        "messages": incident.message_count,
        "sources": incident.sources,
        "heat": incident.heat,
        "escalation_step": incident.escalation_step,
        "opened_at": incident.opened_at.isoformat(),
        "acknowledged_by": incident.acknowledged_by,
        "resolved_by": incident.resolved_by,
    }


def cmd_incidents_list(args: argparse.Namespace) -> int:
    _, db = _setup(args)
    with db.read() as session:
        query = select(Incident).order_by(Incident.id.desc()).limit(args.limit)
        if args.state:
            query = query.where(Incident.state == args.state)
        records = [incident_record(i) for i in session.scalars(query)]
    if args.json:
        json.dump(records, sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        for r in records:
            print(
                f"{r['code']:<9} {r['state']:<12} {r['severity']} {r['messages']:>5} {r['team'] or '-':<8} {r['title'][:60]}"
            )
    return 0


def _parse_time(value: str | None, zone: ZoneInfo) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(
            f"时间格式不对 / not a time: {value!r} — 例如 e.g. 2026-12-24T09:00 或 2026-12-24T09:00+08:00"
        ) from None
    return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed


def _oncall(args: argparse.Namespace) -> Any:
    config = load_or_exit(args)
    stories = _stories(config)
    if stories.oncall is None:
        print("alerts.oncall is not configured", file=sys.stderr)
        raise SystemExit(2)
    return stories.oncall


def cmd_oncall_who(args: argparse.Namespace) -> int:
    oncall = _oncall(args)
    at = _parse_time(args.at, ZoneInfo(oncall.config.timezone))
    for team in oncall.config.teams:
        zone = oncall.zones[team]
        print(f"{team} @ {at.astimezone(zone).isoformat(timespec='minutes')} ({zone.key})")
        for role in oncall.roles(team):
            shift = oncall.who(team, role, at)
            person = oncall.people[shift.person].name if shift else "-"
            until = f" until {shift.end.astimezone(zone):%m-%d %H:%M} ({shift.via})" if shift else " (nobody)"
            print(f"  {role:<10} {person}{until}")
    return 0


def cmd_oncall_preview(args: argparse.Namespace) -> int:
    oncall = _oncall(args)
    start = _parse_time(args.start, ZoneInfo(oncall.config.timezone))
    for shift in oncall.preview(start, args.days):
        zone = oncall.zones[shift.team]
        name = oncall.people[shift.person].name
        print(
            f"{shift.start.astimezone(zone):%Y-%m-%d %a %H:%M} - {shift.end.astimezone(zone):%m-%d %H:%M}"
            f"  {shift.team:<8} {shift.role:<10} {name} [{shift.via}]"
        )
    return 0


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([mhd])$")


def _duration(value: str) -> timedelta:
    match = _DURATION.match(value)
    if not match:
        raise argparse.ArgumentTypeError("duration like 30m, 4h or 2d")
    amount, unit = float(match.group(1)), match.group(2)
    return (
        timedelta(minutes=amount) if unit == "m" else timedelta(hours=amount if unit == "h" else amount * 24)
    )


def cmd_silence(args: argparse.Namespace) -> int:
    from monitor.stories.silences import add_silence

    _, db = _setup(args)
    now = utcnow()
    if args.silence_command == "add":
        with db.transaction() as session:
            silence = add_silence(
                session,
                args.matcher,
                args.value,
                expires_at=now + args.for_,
                reason=args.reason or "",
                created_by=_actor(args),
                now=now,
            )
            print(
                f"silence {silence.id}: {silence.matcher}={silence.value} until {silence.expires_at.isoformat()}"
            )
        return 0
    if args.silence_command == "remove":
        with db.transaction() as session:
            row = session.get(Silence, args.id)
            if row is None:
                print(f"no silence {args.id}", file=sys.stderr)
                return EXIT_NOT_FOUND
            row.expires_at = now
        print(f"silence {args.id} removed")
        return 0
    with db.read() as session:
        rows = list(session.scalars(select(Silence).where(Silence.expires_at > now).order_by(Silence.id)))
        records = [
            {
                "id": s.id,
                "matcher": s.matcher,
                "value": s.value,
                "expires_at": s.expires_at.isoformat(),
                "created_by": s.created_by,
                "reason": s.reason,
            }
            for s in rows
        ]
    if args.json:
        json.dump(records, sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        for r in records:
            print(
                f"{r['id']:>4} {r['matcher']}={r['value']} until {r['expires_at']} by {r['created_by']} {r['reason']}"
            )
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from monitor.pipeline import decide_review
    from monitor.runtime import build_context
    from monitor.stories.review import pending_reviews

    config, db = _setup(args)
    if args.review_command == "list":
        with db.read() as session:
            records = [
                {
                    "id": m.id,
                    "source_id": m.source_id,
                    "author": m.author_name,
                    "text": m.text[:200],
                    "rules": (m.analysis or {}).get("rules", []),
                    "created_at": m.created_at.isoformat(),
                }
                for m in pending_reviews(session, args.limit)
            ]
        if args.json:
            json.dump(records, sys.stdout, ensure_ascii=False, indent=2)
            print()
        else:
            for r in records:
                print(f"{r['id']:>6} {','.join(r['rules'])}: {r['text'][:80]}")
        return 0
    try:
        analyzer = _analyzer(config)
        context = build_context(config, db, analyzer, stories=_stories(config))
        state = decide_review(context, args.id, approve=args.review_command == "approve")
    except LookupError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_NOT_FOUND
    print(f"message {args.id}: {state}")
    return 0


def _analyzer(config: AppConfig) -> Any:
    from monitor.analysis.engine import load_analyzer

    try:
        return load_analyzer(config.rules.paths)
    except ConfigError as exc:
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        raise SystemExit(2) from None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, help_text in (
        ("ack", "acknowledge an incident (INC-42) or ticket (Q000123)"),
        ("resolve", "resolve an incident or ticket"),
    ):
        parser = sub.add_parser(name, help=help_text)
        parser.add_argument("ref", help="INC-42 or Q000123")
        parser.add_argument("--note")
        parser.set_defaults(func=cmd_ack)
    story = sub.add_parser("story", help="one story (incident or ticket group)").add_subparsers(
        dest="story_command", required=True
    )
    show = story.add_parser("show", help="state, route, who was told, trail with notes")
    show.add_argument("ref", help="INC-42, Q000123 or S7")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_story_show)
    incidents = sub.add_parser("incidents", help="list incidents").add_subparsers(
        dest="incidents_command", required=True
    )
    listing = incidents.add_parser("list")
    listing.add_argument("--state", choices=["open", "acknowledged", "resolved"])
    listing.add_argument("--limit", type=positive_int, default=50)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_incidents_list)
    oncall = sub.add_parser("oncall", help="who is on call").add_subparsers(
        dest="oncall_command", required=True
    )
    who = oncall.add_parser("who", help="who holds each role now or at --at")
    who.add_argument("--at", help="ISO time (default now; naive = on-call timezone)")
    who.set_defaults(func=cmd_oncall_who)
    preview = oncall.add_parser("preview", help="shifts of the next days")
    preview.add_argument("--days", type=positive_int, default=14)
    preview.add_argument("--start", help="ISO time (default now)")
    preview.set_defaults(func=cmd_oncall_preview)
    silence = sub.add_parser("silence", help="mute alerts").add_subparsers(
        dest="silence_command", required=True
    )
    add = silence.add_parser("add")
    add.add_argument("matcher", choices=["rule", "tag", "source", "text"])
    add.add_argument("value")
    add.add_argument("--for", dest="for_", type=_duration, default=timedelta(hours=4), help="30m, 4h, 2d")
    add.add_argument("--reason")
    add.set_defaults(func=cmd_silence)
    lst = silence.add_parser("list")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_silence)
    remove = silence.add_parser("remove")
    remove.add_argument("id", type=positive_int)
    remove.set_defaults(func=cmd_silence)
    review = sub.add_parser("review", help="messages waiting for review").add_subparsers(
        dest="review_command", required=True
    )
    rl = review.add_parser("list")
    rl.add_argument("--limit", type=positive_int, default=100)
    rl.add_argument("--json", action="store_true")
    rl.set_defaults(func=cmd_review)
    for name in ("approve", "reject"):
        decision = review.add_parser(name)
        decision.add_argument("id", type=positive_int, help="message id")
        decision.set_defaults(func=cmd_review)
