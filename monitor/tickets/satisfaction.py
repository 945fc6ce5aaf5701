"""Satisfaction answers and second handling (二次处理): parse, store, reopen when dissatisfied.

Answers are read from customer replies that thread onto a resolved ticket with an unanswered
follow-up (``followups``), and from the signed link's page. The scale is the follow-up's:
``1`` 满意 satisfied, ``2`` 一般 neutral, ``3`` 不满意 dissatisfied; the words in simplified or
traditional Chinese and English count too. Only the reply's own text is read (quoted mail and
the "On ... wrote:" tail are skipped), and only the first clause of its first line decides, so a
complaint that mentions 满意 somewhere is not taken for an answer.

A dissatisfied answer moves the ticket ``resolved -> reopened`` through the state machine and
raises its priority one level (L3 -> L2 -> L1), each an audit event by ``satisfaction``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.storage.models import Followup, Satisfaction, Ticket, TicketEvent
from monitor.stored import NewMessage
from monitor.tickets.lifecycle import set_status

Score = Literal["satisfied", "neutral", "dissatisfied"]
ANSWERS: dict[str, str] = {"satisfied": "满意", "neutral": "一般", "dissatisfied": "不满意"}
DIGITS: dict[str, Score] = {"1": "satisfied", "2": "neutral", "3": "dissatisfied"}
# Longest / negative forms first: 不满意 contains 满意, dissatisfied contains satisfied.
WORDS: tuple[tuple[str, Score], ...] = (
    ("不太满意", "dissatisfied"),
    ("不满意", "dissatisfied"),
    ("不滿意", "dissatisfied"),
    ("dissatisfied", "dissatisfied"),
    ("unsatisfied", "dissatisfied"),
    ("not satisfied", "dissatisfied"),
    ("一般", "neutral"),
    ("neutral", "neutral"),
    ("满意", "satisfied"),
    ("滿意", "satisfied"),
    ("satisfied", "satisfied"),
)
OPT_OUT_WORDS = ("退订", "退訂", "取消订阅", "取消訂閱", "unsubscribe")
RAISE = {"L3": "L2", "L2": "L1", "L1": "L1"}
ACTOR = "satisfaction"
_DIGIT = re.compile(r"^[\[(【]?\s*([123])\s*[\])】]?(?=$|[\s.、,，:：;；!！-])")
_CLAUSE = re.compile(r"[,，。.!！?？;；:：\n]")
MAX_CLAUSE = 24
"""A word answer is the first clause of the reply, and a short one (not a sentence that mentions 满意)."""
_REPLY_HEADER = re.compile(
    r"^(on .+ wrote:?|在.+写道[:：]?|.*-----\s*original message\s*-----.*|-{2,}\s*原始邮件\s*-{2,}|发件人[:：].*|from:.*)$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Answer:
    score: Score
    text: str
    """What the customer wrote besides the scale (free text), quoted mail left out."""

    @property
    def label(self) -> str:
        return ANSWERS[self.score]


def own_lines(text: str) -> list[str]:
    """The reply's own non-empty lines: quoted lines dropped, nothing after a reply header."""
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if _REPLY_HEADER.match(line):
            break
        if line and not line.startswith(">"):
            lines.append(line)
    return lines


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower()


def parse_answer(text: str) -> Answer | None:
    """The scale answer in the reply's first own line (digit or word), else None."""
    lines = own_lines(text)
    if not lines:
        return None
    head, rest = _normal(lines[0]), lines[1:]
    digit = _DIGIT.match(head)
    if digit:
        tail = head[digit.end() :].strip(" .、,，:：;；!！-")
        return Answer(DIGITS[digit.group(1)], "\n".join([t for t in (tail, *rest) if t]))
    window = _CLAUSE.split(head, maxsplit=1)[0]
    if len(window) > MAX_CLAUSE:
        return None
    for word, score in WORDS:
        if word in window:
            return Answer(score, "\n".join([lines[0], *rest]))
    return None


def is_opt_out(text: str) -> bool:
    """The reply asks not to be surveyed again (退订 / unsubscribe in its first own line)."""
    lines = own_lines(text)
    head = _normal(lines[0])[:60] if lines else ""
    return any(word in head for word in OPT_OUT_WORDS)


def raise_priority(session: Session, ticket: Ticket, *, now: datetime, note: str) -> bool:
    """One level up (L3 -> L2 -> L1; unprioritised -> L2); an audit event when it changed."""
    new = RAISE.get(ticket.priority or "", "L2")
    if new == ticket.priority:
        return False
    session.add(
        TicketEvent(
            ticket_id=ticket.id, kind="priority", old_value=ticket.priority, new_value=new, actor=ACTOR, note=note, at=now
        )
    )
    ticket.priority = new
    return True


def record_satisfaction(
    session: Session,
    ticket: Ticket,
    score: Score,
    *,
    channel: str,
    raw: str,
    now: datetime,
    followup: Followup | None = None,
    message_id: int | None = None,
) -> Satisfaction:
    """Store the answer (and its audit event); dissatisfied: second handling (reopen, raise)."""
    row = Satisfaction(
        ticket_id=ticket.id,
        score=score,
        answer=ANSWERS[score],
        channel=channel[:32],
        followup_id=followup.id if followup is not None else None,
        message_id=message_id,
        raw=raw[:4000],
        at=now,
    )
    session.add(row)
    if followup is not None:
        followup.answered_at = now
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            kind="satisfaction",
            new_value=score,
            actor="customer",
            message_id=message_id,
            note=f"{ANSWERS[score]} {score} ({channel})",
            at=now,
        )
    )
    if score == "dissatisfied":
        second_handling(session, ticket, now)
    return row


def second_handling(session: Session, ticket: Ticket, now: datetime) -> None:
    """二次处理: a resolved ticket is reopened, and its priority goes up one level."""
    if ticket.status == "resolved":
        set_status(session, ticket, "reopened", actor=ACTOR, note="客户不满意，二次处理 dissatisfied: second handling", now=now)
    raise_priority(session, ticket, now=now, note="客户不满意，优先级升一级 dissatisfied: priority raised one level")


def open_followup(session: Session, ticket_id: int) -> Followup | None:
    """The newest unanswered satisfaction follow-up of a ticket."""
    query = (
        select(Followup)
        .where(Followup.ticket_id == ticket_id, Followup.kind == "satisfaction", Followup.answered_at.is_(None))
        .order_by(Followup.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def take_reply(session: Session, ticket: Ticket, items: Sequence[NewMessage], now: datetime) -> bool:
    """True when ``items`` answer the ticket's satisfaction follow-up (recorded here): the caller
    then does not treat them as the customer coming back (which would reopen the ticket)."""
    if ticket.status not in ("resolved", "closed"):  # closed: stored, but a closed ticket stays closed
        return False
    followup = open_followup(session, ticket.id)
    if followup is None:
        return False
    for item in items:
        answer = parse_answer(item.message.text)
        if answer is not None:
            record_satisfaction(
                session,
                ticket,
                answer.score,
                channel=item.message.channel or "email",
                raw=item.message.text,
                now=now,
                followup=followup,
                message_id=item.row.id,
            )
            return True
    return False
