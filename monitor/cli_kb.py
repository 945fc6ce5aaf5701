"""``yuqing kb link|search|show|rebuild``: the knowledge base of resolved tickets and problems."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.cli import CliError, load_or_exit, open_database, positive_int
from monitor.cli_tickets import with_ticket
from monitor.storage.models import Problem, Ticket, TicketEvent

EXIT_NOT_FOUND = 3
SNIPPET = 120


def _problem(problem: Problem) -> dict[str, Any]:
    from monitor.tickets.problems import problem_code

    return {
        "code": problem_code(problem.id),
        "title": problem.title,
        "resolution": problem.resolution,
        "tags": list(problem.tags or []),
        "created_by": problem.created_by,
        "created_at": problem.created_at.isoformat(),
    }


def cmd_link(args: argparse.Namespace) -> int:
    from monitor.tickets.problems import ProblemError, find_problem, link, new_problem, problem_code

    if bool(args.problem) == bool(args.new_problem):
        raise CliError("请给出 --problem P12 或 --new-problem 标题（二选一）/ give either --problem or --new-problem")

    def action(session: Session, ticket: Ticket) -> str:
        try:
            if args.problem:
                problem = find_problem(session, args.problem)
            else:
                tags = [t.strip() for t in (args.tags or "").split(",") if t.strip()]
                problem = new_problem(session, args.new_problem, args.resolution or "", tags=tags, actor=args.actor)
            linked = link(session, ticket, problem, actor=args.actor)
        except ProblemError as exc:
            raise CliError(str(exc), code=EXIT_NOT_FOUND if "no problem" in str(exc) else 2) from None
        return f"{ticket.code} -> {problem_code(problem.id)} {problem.title}" + ("" if linked.created else " (已关联 already linked)")

    return with_ticket(args, action)


def _resolution_note(session: Session, ticket_id: int) -> str | None:
    """The note of the ticket's last move to resolved (what the agent said when resolving)."""
    return session.scalar(
        select(TicketEvent.note)
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "status", TicketEvent.new_value == "resolved")
        .order_by(TicketEvent.id.desc())
        .limit(1)
    )


def cmd_search(args: argparse.Namespace) -> int:
    from monitor.tickets.knowledge import search  # the analysis chain (jieba, OpenCC) loads only here
    from monitor.tickets.problems import problems_of

    db = open_database(load_or_exit(args))
    try:
        with db.read() as session:
            hits = search(session, args.text, limit=args.limit)
            tickets = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_([h.ticket_id for h in hits])))}
            linked = problems_of(session, list(tickets))
            results: list[dict[str, Any]] = [
                {
                    "code": tickets[h.ticket_id].code,
                    "score": round(h.score, 4),
                    "status": tickets[h.ticket_id].status,
                    "title": tickets[h.ticket_id].title,
                    "text": (tickets[h.ticket_id].content or tickets[h.ticket_id].title or "")[:SNIPPET],
                    "matched": list(h.matched),
                    "problems": [_problem(p) for p in linked.get(h.ticket_id, [])],
                    "resolution_note": _resolution_note(session, h.ticket_id),
                }
                for h in hits
            ]
    finally:
        db.dispose()
    if args.json:
        print(json.dumps({"query": args.text, "results": results}, ensure_ascii=False, indent=2))
        return 0
    if not results:
        print("没有相似的已解决工单 / no similar resolved tickets")
        return 0
    for r in results:
        print(f"{r['code']}  {r['score']:.2f}  [{r['status']}]  {r['text']}")
        for p in r["problems"]:
            print(f"    {p['code']} {p['title']}: {p['resolution']}")
        if not r["problems"] and r["resolution_note"]:
            print(f"    解决说明 resolution note: {r['resolution_note']}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from monitor.tickets.problems import ProblemError, find_problem, tickets_of

    db = open_database(load_or_exit(args))
    try:
        with db.read() as session:
            try:
                problem = find_problem(session, args.problem)
            except ProblemError as exc:
                raise CliError(str(exc), code=EXIT_NOT_FOUND if "no problem" in str(exc) else 2) from None
            record = _problem(problem)
            record["tickets"] = [
                {"code": t.code, "status": t.status, "title": t.title} for t in tickets_of(session, problem)
            ]
    finally:
        db.dispose()
    if args.json:
        print(json.dumps(record, ensure_ascii=False, indent=2))
        return 0
    print(f"{record['code']} {record['title']}")
    if record["tags"]:
        print(f"  标签 tags: {', '.join(record['tags'])}")
    print(f"  解决办法 resolution: {record['resolution']}")
    print(f"  创建 created: {record['created_at'][:19]} by {record['created_by']}")
    for t in record["tickets"]:
        print(f"  - {t['code']} [{t['status']}] {t['title']}")
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    from monitor.tickets.knowledge import rebuild

    db = open_database(load_or_exit(args))
    try:
        with db.transaction() as session:
            count = rebuild(session)
    finally:
        db.dispose()
    print(f"已重建索引 / index rebuilt: {count} tickets")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kb = sub.add_parser("kb", help="knowledge base: problems and similar resolved tickets").add_subparsers(
        dest="kb_command", required=True, metavar="COMMAND"
    )
    linker = kb.add_parser("link", help="link a resolved ticket to a problem (existing or new)")
    linker.add_argument("code")
    linker.add_argument("--problem", help="an existing problem, P12")
    linker.add_argument("--new-problem", metavar="TITLE", help="create a problem with this title")
    linker.add_argument("--resolution", help="how it is solved (with --new-problem)")
    linker.add_argument("--tags", help="comma-separated (with --new-problem)")
    linker.set_defaults(func=cmd_link)
    finder = kb.add_parser("search", help="similar resolved tickets and their resolutions")
    finder.add_argument("text")
    finder.add_argument("--limit", type=positive_int, default=10)
    finder.add_argument("--json", action="store_true")
    finder.set_defaults(func=cmd_search)
    show = kb.add_parser("show", help="a problem, its resolution and its tickets")
    show.add_argument("problem")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)
    again = kb.add_parser("rebuild", help="index every resolved or closed ticket again")
    again.set_defaults(func=cmd_rebuild)
