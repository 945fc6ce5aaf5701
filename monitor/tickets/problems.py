"""Problem records of the knowledge base: a known problem, its resolution, the tickets it solved.

Only a resolved or closed ticket is linked (the knowledge base holds what worked); linking is an
audit event on the ticket (``kind = problem``) and (re)indexes the ticket for ``kb search``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.storage.models import Problem, Ticket, TicketEvent, TicketProblem, utcnow
from monitor.tickets.knowledge import DONE, index_ticket

_CODE = re.compile(r"^[Pp]?(\d{1,18})$")


class ProblemError(ValueError):
    """A mistake the user can fix (unknown problem, ticket not resolved, empty title)."""


def problem_code(problem_id: int) -> str:
    return f"P{problem_id}"


def parse_problem(ref: str) -> int:
    match = _CODE.match(ref.strip())
    if match is None:
        raise ProblemError(f"问题编号应为 P12 这样的格式 / a problem is named like P12: {ref!r}")
    return int(match.group(1))


def find_problem(session: Session, ref: str) -> Problem:
    problem = session.get(Problem, parse_problem(ref))
    if problem is None:
        raise ProblemError(f"没有问题记录 / no problem {ref}")
    return problem


def new_problem(
    session: Session, title: str, resolution: str, *, tags: list[str], actor: str, now: datetime | None = None
) -> Problem:
    title, resolution = title.strip(), resolution.strip()
    if not title or len(title) > 255:
        raise ProblemError("标题须为 1-255 个字符 / the title must be 1-255 characters")
    if not resolution:
        raise ProblemError("请用 --resolution 写明解决办法 / --resolution is required for a new problem")
    when = now or utcnow()
    problem = Problem(title=title, resolution=resolution, tags=tags, created_by=actor, created_at=when, updated_at=when)
    session.add(problem)
    session.flush()
    return problem


@dataclass(frozen=True)
class Linked:
    problem: Problem
    created: bool  # False: the ticket was linked already


def link(session: Session, ticket: Ticket, problem: Problem, *, actor: str, now: datetime | None = None) -> Linked:
    """Link a resolved (or closed) ticket to ``problem``; an audit event records who and when."""
    if ticket.status not in DONE:
        raise ProblemError(
            f"{ticket.code}: 只有已解决或已关闭的工单可以关联问题 / only a resolved or closed ticket is linked "
            f"(status {ticket.status})"
        )
    if session.get(TicketProblem, (ticket.id, problem.id)) is not None:
        return Linked(problem, created=False)
    when = now or utcnow()
    session.add(TicketProblem(ticket_id=ticket.id, problem_id=problem.id, linked_by=actor, linked_at=when))
    session.add(
        TicketEvent(ticket_id=ticket.id, kind="problem", new_value=problem_code(problem.id), actor=actor, at=when,
                    note=problem.title)
    )
    index_ticket(session, ticket, now=when)
    return Linked(problem, created=True)


def problems_of(session: Session, ticket_ids: list[int]) -> dict[int, list[Problem]]:
    """The problems each ticket is linked to."""
    if not ticket_ids:
        return {}
    rows = session.execute(
        select(TicketProblem.ticket_id, Problem)
        .join(Problem, Problem.id == TicketProblem.problem_id)
        .where(TicketProblem.ticket_id.in_(ticket_ids))
        .order_by(Problem.id)
    ).tuples()
    out: dict[int, list[Problem]] = {}
    for ticket_id, problem in rows:
        out.setdefault(ticket_id, []).append(problem)
    return out


def tickets_of(session: Session, problem: Problem) -> list[Ticket]:
    return list(
        session.scalars(
            select(Ticket)
            .join(TicketProblem, TicketProblem.ticket_id == Ticket.id)
            .where(TicketProblem.problem_id == problem.id)
            .order_by(Ticket.id)
        )
    )
