"""``yuqing feedback pending|posted``: satisfaction follow-ups staff post on other channels.

A ticket from a channel yuqing cannot answer on (posts, chats) gets its follow-up as a message
template with the signed link (status ``ready``): staff list them, post each where the customer
wrote, and mark it posted.
"""

from __future__ import annotations

import argparse
import json
import sys

from sqlalchemy import select

from monitor.cli import CliError, load_or_exit, open_database
from monitor.storage.models import Followup, Ticket, utcnow

EXIT_NOT_FOUND = 3


def follow_up_id(value: str) -> int:
    """argparse type: a follow-up number (1 .. 2^63-1)."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number < 2**63:
        raise argparse.ArgumentTypeError(f"回访编号须为正整数 / a follow-up id is a positive number: {value!r}")
    return number


def cmd_pending(args: argparse.Namespace) -> int:
    config = load_or_exit(args)
    db = open_database(config)
    with db.read() as session:
        rows = session.execute(
            select(Followup, Ticket.code)
            .join(Ticket, Ticket.id == Followup.ticket_id)
            .where(Followup.status == "ready", Followup.kind == "satisfaction")
            .order_by(Followup.id)
        ).all()
        records = [
            {"id": f.id, "ticket": code, "channel": f.channel, "created_at": f.created_at.isoformat(), "text": f.body}
            for f, code in rows
        ]
    if args.json:
        json.dump(records, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    for record in records:
        print(f"#{record['id']}  {record['ticket']}  {record['channel']}  {record['created_at'][:16]}")
        print("    " + record["text"].replace("\n", "\n    "))
    print(f"{len(records)} 条待发回访 / follow-ups to post")
    return 0


def cmd_posted(args: argparse.Namespace) -> int:
    config = load_or_exit(args)
    db = open_database(config)
    with db.transaction() as session:
        row = session.get(Followup, args.id)
        if row is None or row.status != "ready":
            raise CliError(f"没有待发回访 #{args.id} / no follow-up #{args.id} waiting to be posted", code=EXIT_NOT_FOUND)
        row.status, row.sent_at, row.last_error = "sent", utcnow(), f"posted by {args.actor}"
    print(f"#{args.id} 已标记为已发 / marked posted")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    feedback = sub.add_parser("feedback", help="satisfaction follow-ups to post on other channels")
    fsub = feedback.add_subparsers(dest="feedback_command", required=True)
    pending = fsub.add_parser("pending", help="follow-up texts (with the signed link) waiting to be posted")
    pending.add_argument("--json", action="store_true", help="a JSON array")
    pending.set_defaults(func=cmd_pending)
    posted = fsub.add_parser("posted", help="mark a follow-up as posted to the customer")
    posted.add_argument("id", type=follow_up_id)
    posted.add_argument("--actor", required=True, help="who posted it")
    posted.set_defaults(func=cmd_posted)
