"""``yuqing tickets set|note|respond``: staff corrections, internal notes and responses.

Every write names its actor (checked by ``monitor.cli_auth``) and is one audit event per change (who, when, why).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.cli import CliError, load_or_exit, open_database
from monitor.storage.models import Ticket
from monitor.tickets.lifecycle import TransitionError
from monitor.tickets.record import (
    FIELDS,
    FieldError,
    add_note,
    parse_assignments,
    record_response,
    set_fields,
)

EXIT_NOT_FOUND = 3


def with_ticket(args: argparse.Namespace, action: Callable[[Session, Ticket], str]) -> int:
    """Run ``action`` on the ticket ``args.code`` in one transaction and print what it says
    (exit 3 when there is no such ticket)."""
    db = open_database(load_or_exit(args))
    try:
        with db.transaction() as session:
            ticket = session.scalar(select(Ticket).where(Ticket.code == args.code.upper()))
            if ticket is None:
                raise CliError(f"没有工单 / no ticket {args.code}", code=EXIT_NOT_FOUND)
            try:
                said = action(session, ticket)
            except (FieldError, TransitionError) as exc:
                raise CliError(f"{ticket.code}: {exc}") from None
    finally:
        db.dispose()
    print(said)
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    try:
        assignments = parse_assignments(args.fields)
    except FieldError as exc:
        raise CliError(str(exc)) from None

    def action(session: Session, ticket: Ticket) -> str:
        changes = set_fields(session, ticket, assignments, actor=args.actor, reason=args.reason or "")
        if not changes:
            return f"{ticket.code}: 无变化 / unchanged"
        return "\n".join(f"{ticket.code}: {c.name} {c.old or '-'} -> {c.new or '-'}" for c in changes)

    return with_ticket(args, action)


def cmd_note(args: argparse.Namespace) -> int:
    def action(session: Session, ticket: Ticket) -> str:
        add_note(session, ticket, args.text, actor=args.actor)
        return f"{ticket.code}: 已添加备注 / note added"

    return with_ticket(args, action)


def cmd_respond(args: argparse.Namespace) -> int:
    def action(session: Session, ticket: Ticket) -> str:
        record_response(session, ticket, actor=args.actor, note=args.note)
        return f"{ticket.code}: 已记录响应 / response recorded ({ticket.status})"

    return with_ticket(args, action)


def register(tsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tset = tsub.add_parser(
        "set",
        help="correct ticket fields: priority=L1 department=售后服务部 assignee=wangfang ...",
        description=f"fields: {', '.join(FIELDS)}; tags are comma-separated; complex is yes/no",
    )
    tset.add_argument("code")
    tset.add_argument("fields", nargs="+", metavar="FIELD=VALUE")
    tset.add_argument("--reason", required=True, help="why (kept on every event)")
    tset.set_defaults(func=cmd_set)
    tnote = tsub.add_parser("note", help="add an internal note (never sent to the customer)")
    tnote.add_argument("code")
    tnote.add_argument("text")
    tnote.set_defaults(func=cmd_note)
    trespond = tsub.add_parser("respond", help="record an agent response (stops the response clocks)")
    trespond.add_argument("code")
    trespond.add_argument("--note", help="what was said or done")
    trespond.set_defaults(func=cmd_respond)
