"""``yuqing tickets ...`` and ``yuqing quarantine ...``: inspect and act on stored state.

``--json`` output is a stable, documented interface (docs/cli-json.md): an array of objects.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor import cli_tickets
from monitor.cli import CliError, load_or_exit, non_negative_int, open_database, positive_int
from monitor.storage.db import Database
from monitor.storage.models import QuarantineItem, Source, StoredMessage, Ticket
from monitor.tickets.lifecycle import ALIASES
from monitor.tickets.service import STATUSES, TransitionError, set_status

EXIT_NOT_FOUND = 3


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def attachments_of(session: Session, message_ids: list[int]) -> list[dict[str, Any]]:
    """Files sent with these messages (intake), by content hash under ``<state_dir>/attachments``."""
    from monitor.storage.models import IntakeAttachment

    rows = session.scalars(
        select(IntakeAttachment).where(IntakeAttachment.message_id.in_(message_ids)).order_by(IntakeAttachment.id)
    )
    return [
        {"message_id": a.message_id, "name": a.name, "media_type": a.media_type, "size": a.size, "sha256": a.sha256}
        for a in rows
    ]


def ticket_record(session: Session, ticket: Ticket) -> dict[str, Any]:
    message_ids = list(
        session.scalars(
            select(StoredMessage.id).where(StoredMessage.ticket_id == ticket.id).order_by(StoredMessage.id)
        )
    )
    return {
        "code": ticket.code,
        "status": ticket.status,
        "priority": ticket.priority,
        "source": ticket.source.name,
        "channel": ticket.channel,
        "thread_key": ticket.thread_key,
        "title": ticket.title,
        "type": ticket.feedback_type,
        "category": ticket.category,
        "message_ids": message_ids,
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "department": ticket.department,
        "assignee": ticket.assignee,
        "tags": list(ticket.tags or []),
        "complex": bool(ticket.complex),
        "customer": ticket.customer_name,
        "customer_handle": ticket.customer_handle,
        "customer_contact": ticket.customer_contact,
        "source_url": ticket.source_url,
        "received_at": _iso(ticket.received_at),
        "incident_id": ticket.incident_id,
    }


def _db(args: argparse.Namespace) -> Database:
    return open_database(load_or_exit(args))


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _table(columns: list[str], rows: list[list[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns, show_lines=False)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console().print(table)


def cmd_tickets_list(args: argparse.Namespace) -> int:
    db = _db(args)
    with db.read() as session:
        query = select(Ticket).order_by(Ticket.id.desc())
        if args.status:
            query = query.where(Ticket.status == args.status)
        if args.priority:
            query = query.where(Ticket.priority == args.priority)
        if args.department:
            query = query.where(Ticket.department == args.department)
        if args.assignee:
            query = query.where(Ticket.assignee == args.assignee)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        query = query.offset(args.offset)
        if not args.all:
            query = query.limit(args.limit)
        records = [ticket_record(session, t) for t in session.scalars(query)]
    if args.json:
        _print_json(records)
    else:
        rows = [
            [r["code"], r["status"], r["priority"], r["source"], len(r["message_ids"]), r["title"][:60]]
            for r in records
        ]
        _table(["code", "status", "priority", "source", "msgs", "title"], rows)
        more = total - args.offset - len(records)
        hint = f"; 下一页 next page: --offset {args.offset + len(records)}" if more > 0 else ""
        print(f"{len(records)} shown of {total}{hint}")
    return 0


def _find_ticket(session: Session, code: str) -> Ticket | None:
    return session.scalar(select(Ticket).where(Ticket.code == code.upper()))


def cmd_tickets_show(args: argparse.Namespace) -> int:
    db = _db(args)
    with db.read() as session:
        ticket = _find_ticket(session, args.code)
        if ticket is None:
            print(f"no ticket {args.code}", file=sys.stderr)
            return 1
        record = ticket_record(session, ticket)
        record["events"] = [
            {
                "kind": e.kind,
                "old": e.old_value,
                "new": e.new_value,
                "actor": e.actor,
                "message_id": e.message_id,
                "note": e.note,
                "at": _iso(e.at),
            }
            for e in ticket.events
        ]
        record["notes"] = [
            {"actor": e["actor"], "at": e["at"], "text": e["note"]} for e in record["events"] if e["kind"] == "note"
        ]
        messages = session.scalars(select(StoredMessage).where(StoredMessage.ticket_id == ticket.id))
        record["messages"] = [
            {
                "id": m.id,
                "source": m.source.name,
                "external_id": m.external_id,
                "raw_ref": m.raw_ref,
                "author": m.author_name,
                "created_at": _iso(m.created_at),
                "text": m.text,
                "analysis": m.analysis,
            }
            for m in messages
        ]
        record["attachments"] = attachments_of(session, [m["id"] for m in record["messages"]])
    if args.json:
        _print_json(record)
    else:
        print(
            f"{record['code']}  [{record['priority'] or '-'}] {record['status']}  {record['source']}/{record['channel']}"
        )
        print(f"  {record['title']}")
        print(
            f"  客户 customer: {record['customer'] or '-'}  账号 handle: {record['customer_handle'] or '-'}"
            f"  联系方式 contact: {record['customer_contact'] or '-'}  接收 received: {record['received_at'] or '-'}"
            f"  链接 link: {record['source_url'] or '-'}  事件 incident: {record['incident_id'] or '-'}"
        )
        print(
            f"  部门 department: {record['department'] or '-'}  处理人 assignee: {record['assignee'] or '-'}"
            f"  类型 type: {record['type'] or '-'}  分类 category: {record['category'] or '-'}"
            f"  复杂 complex: {'是 yes' if record['complex'] else '否 no'}  标签 tags: {','.join(record['tags']) or '-'}"
        )
        for note in record["notes"]:
            print(f"  备注 note {note['at']} ({note['actor']}): {note['text']}")
        for message in record["messages"]:
            print(f"  #{message['id']} {message['created_at']} {message['author']}: {message['text'][:200]}")
        for item in record["attachments"]:
            print(f"  附件 attachment #{item['message_id']} {item['name']} ({item['media_type']}, {item['size']:,} B) {item['sha256'][:12]}")
        for event in record["events"]:
            why = f" — {event['note']}" if event["note"] and event["kind"] != "note" else ""
            print(
                f"  - {event['at']} {event['kind']} {event['old'] or ''} -> {event['new'] or ''} ({event['actor']}){why}"
            )
    return 0


def cmd_tickets_set_status(args: argparse.Namespace) -> int:
    db = _db(args)
    with db.transaction() as session:
        ticket = _find_ticket(session, args.code)
        if ticket is None:
            print(f"no ticket {args.code}", file=sys.stderr)
            return 1
        try:
            set_status(session, ticket, args.status, actor=args.actor, note=args.note)
        except TransitionError as exc:
            print(f"{args.code}: {exc}", file=sys.stderr)
            return 1
        status = ticket.status
    print(f"{args.code.upper()}: {status}")
    return 0


def quarantine_record(item: QuarantineItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "source": item.source.name,
        "reason": item.reason,
        "raw_ref": item.raw_ref,
        "raw_size": item.raw_size,
        "stored_bytes": len(item.raw),
        "status": item.status,
        "attempts": item.attempts,
        "last_error": item.last_error,
        "created_at": _iso(item.created_at),
    }


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    db = _db(args)
    with db.read() as session:
        query = select(QuarantineItem).order_by(QuarantineItem.id.desc()).limit(args.limit)
        if not args.all:
            query = query.where(QuarantineItem.status == "pending")
        records = [quarantine_record(q) for q in session.scalars(query)]
        total = session.scalar(select(func.count()).select_from(QuarantineItem)) or 0
    if args.json:
        _print_json(records)
    else:
        _table(
            ["id", "source", "status", "size", "ref", "reason"],
            [
                [r["id"], r["source"], r["status"], r["raw_size"], r["raw_ref"][:40], r["reason"][:70]]
                for r in records
            ],
        )
        print(f"{len(records)} shown, {total} in quarantine")
    return 0


def cmd_quarantine_show(args: argparse.Namespace) -> int:
    db = _db(args)
    with db.read() as session:
        item = session.get(QuarantineItem, args.id)
        if item is None:
            print(f"no quarantine item {args.id}", file=sys.stderr)
            return 1
        if args.raw:
            sys.stdout.buffer.write(item.raw)
            return 0
        record = quarantine_record(item)
        record["raw_preview"] = item.raw[:2000].decode("utf-8", errors="replace")
    _print_json(record)
    return 0


def cmd_quarantine_retry(args: argparse.Namespace) -> int:
    from monitor.quarantine import retry_quarantined

    if not args.ids and not args.all:
        raise CliError("请给出隔离记录编号或 --all / give quarantine ids or --all (see: yuqing quarantine list)")
    config = load_or_exit(args)
    db = open_database(config)
    results = retry_quarantined(db, config, None if args.all else args.ids)
    for item_id, outcome in results:
        print(f"{item_id}: {outcome}")
    return 0 if all(o.startswith("stored") or o.startswith("duplicate") for _, o in results) else 1


def cmd_quarantine_discard(args: argparse.Namespace) -> int:
    """Give up on quarantined input for good: the row (and its raw bytes) stays, marked discarded."""
    reason = (args.reason or "").strip()
    if not reason:
        raise CliError("请用 --reason 说明放弃的原因 / --reason is required: say why the input is discarded")
    db = _db(args)
    with db.transaction() as session:
        items = {item.id: item for item in session.scalars(select(QuarantineItem).where(QuarantineItem.id.in_(args.ids)))}
        missing = [str(i) for i in args.ids if i not in items]
        if missing:
            raise CliError(f"没有这些隔离记录 / no quarantine rows: {', '.join(missing)}", code=EXIT_NOT_FOUND)
        for item in items.values():
            if item.status == "retried":
                raise CliError(f"{item.id}: 已成功重试，无需放弃 / already stored by a retry, nothing to discard")
            item.status = "discarded"
            item.last_error = f"discarded by {args.actor}: {reason}"
    for item_id in args.ids:
        print(f"{item_id}: discarded")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tickets = sub.add_parser("tickets", help="list and inspect tickets")
    tsub = tickets.add_subparsers(dest="tickets_command", required=True)
    tlist = tsub.add_parser("list", help="list tickets, newest first")
    tlist.add_argument("--json", action="store_true", help="stable JSON array (docs/cli-json.md)")
    tlist.add_argument("--status", choices=STATUSES)
    tlist.add_argument("--priority", choices=("L1", "L2", "L3"))
    tlist.add_argument("--department", help="only this department's tickets")
    tlist.add_argument("--assignee", help="only tickets assigned to this person")
    page = tlist.add_mutually_exclusive_group()
    page.add_argument("--limit", type=positive_int, default=100, help="at most this many (default 100)")
    page.add_argument("--all", action="store_true", help="every matching ticket (no limit)")
    tlist.add_argument("--offset", type=non_negative_int, default=0, help="skip this many (paging)")
    tlist.set_defaults(func=cmd_tickets_list)
    tshow = tsub.add_parser("show", help="one ticket with its messages and audit trail")
    tshow.add_argument("code")
    tshow.add_argument("--json", action="store_true")
    tshow.set_defaults(func=cmd_tickets_show)
    tstatus = tsub.add_parser(
        "set-status", help="move a ticket: received -> processing -> resolved -> closed (waiting, reopened)"
    )
    tstatus.add_argument("code")
    tstatus.add_argument("status", choices=(*STATUSES, *ALIASES))
    tstatus.add_argument("--note")
    tstatus.set_defaults(func=cmd_tickets_set_status)
    cli_tickets.register(tsub)
    from monitor.cli_intake import register_tickets

    register_tickets(tsub)

    quarantine = sub.add_parser("quarantine", help="input that could not be parsed")
    qsub = quarantine.add_subparsers(dest="quarantine_command", required=True)
    qlist = qsub.add_parser("list", help="pending quarantine rows, newest first")
    qlist.add_argument("--json", action="store_true", help="stable JSON array (docs/cli-json.md)")
    qlist.add_argument("--all", action="store_true", help="include retried rows")
    qlist.add_argument("--limit", type=positive_int, default=100)
    qlist.set_defaults(func=cmd_quarantine_list)
    qshow = qsub.add_parser("show", help="one row (JSON), or its raw bytes with --raw")
    qshow.add_argument("id", type=positive_int)
    qshow.add_argument("--raw", action="store_true")
    qshow.set_defaults(func=cmd_quarantine_show)
    qretry = qsub.add_parser("retry", help="parse quarantined input again (after a fix) and store it")
    qretry.add_argument("ids", type=positive_int, nargs="*")
    qretry.add_argument("--all", action="store_true")
    qretry.set_defaults(func=cmd_quarantine_retry)
    qdiscard = qsub.add_parser("discard", help="give up on quarantined rows (kept, marked discarded)")
    qdiscard.add_argument("ids", type=positive_int, nargs="+")
    qdiscard.add_argument("--reason", required=True, help="why (kept on the row)")
    qdiscard.set_defaults(func=cmd_quarantine_discard)
    _ = Source  # imported for the relationship loaders
