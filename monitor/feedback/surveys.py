"""Survey campaigns: questionnaires out, answers back through the normal channels, opt-outs.

``plan_campaign`` writes one ``followups`` row (kind ``survey``) per recipient — customers of
recent tickets or a CSV list — skipping opted-out addresses and those the campaign already has;
``monitor.feedback.mailer`` sends them at the configured rate. Each questionnaire carries a token
in its subject (``[SV:<token>]``) and ``Message-ID``, so a reply is matched to its campaign by
either; the signed link opens the same page as satisfaction follow-ups.

Answers (``survey_answers``): the scale 1/2/3 (or 满意/一般/不满意 …) on the first line, free text
below. ``退订``/``unsubscribe`` (reply or the page's button) records an opt-out (``opt_outs``) and
the address is never surveyed again. A dissatisfied answer becomes a ticket of channel ``survey``
(the ``survey`` SLA profile: a solution within 10 working days); the others are stored only.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.alerts.links import LinkSigner
from monitor.feedback.answers import Outcome
from monitor.feedback.followups import domain_of, link, new_token
from monitor.storage.models import Followup, OptOut, Source, StoredMessage, SurveyAnswer, Ticket, TicketEvent
from monitor.stored import NewMessage
from monitor.tickets.satisfaction import ANSWERS, Score, is_opt_out, parse_answer
from monitor.tickets.service import TicketChange, ticket_code

SURVEY_CHANNEL = "survey"
_TOKEN = re.compile(r"\[SV:([A-Za-z0-9_-]{8,64})\]")
_MSGID = re.compile(r"<survey-([A-Za-z0-9_-]{8,64})@")
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
CSV_ADDRESS = ("email", "e-mail", "address", "邮箱", "邮件")
CSV_NAME = ("name", "姓名", "客户")


class SurveyError(ValueError):
    """A bad campaign request (CSV without an address column ...): one line for the user."""


@dataclass(frozen=True, slots=True)
class Recipient:
    address: str
    name: str = ""


@dataclass
class Plan:
    queued: int = 0
    opted_out: int = 0
    already: int = 0
    invalid: int = 0
    rows: list[int] = field(default_factory=list)


def valid_address(value: str) -> str | None:
    address = value.strip().strip("<>").lower()
    return address if _ADDRESS.match(address) else None


def read_csv(path: Path) -> tuple[list[Recipient], int]:
    """Recipients of a CSV list (a header naming an e-mail column; ``name`` optional); invalid rows."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = {c.strip().lower(): c for c in reader.fieldnames or []}
        email = next((columns[c] for c in CSV_ADDRESS if c in columns), None)
        if email is None:
            raise SurveyError(f"CSV 缺少邮箱列 / {path}: no e-mail column (one of {', '.join(CSV_ADDRESS)})")
        name = next((columns[c] for c in CSV_NAME if c in columns), None)
        found: list[Recipient] = []
        invalid = 0
        for row in reader:
            address = valid_address(row.get(email) or "")
            if address is None:
                invalid += 1
                continue
            found.append(Recipient(address, (row.get(name) or "").strip() if name else ""))
    return found, invalid


def recent_customers(session: Session, since: datetime) -> list[Recipient]:
    """Customers of tickets created since ``since``: the ticket's contact, else its mail authors."""
    found: dict[str, Recipient] = {}
    tickets = session.execute(
        select(Ticket.id, Ticket.customer_contact, Ticket.customer_name)
        .where(Ticket.created_at >= since, Ticket.channel != SURVEY_CHANNEL)
        .order_by(Ticket.id)
    ).all()
    for ticket_id, contact, name in tickets:
        address = valid_address(contact or "")
        if address is None:
            author = session.execute(
                select(StoredMessage.author_id, StoredMessage.author_name)
                .where(StoredMessage.ticket_id == ticket_id)
                .order_by(StoredMessage.id)
                .limit(1)
            ).first()
            if author is not None:
                address, name = valid_address(author[0] or ""), name or author[1]
        if address is not None and address not in found:
            found[address] = Recipient(address, name or "")
    return list(found.values())


def survey_body(campaign: str, name: str, url: str) -> str:
    greeting = f"{name}，您好：" if name else "您好："
    link_zh = f"\n也可以在网页上回答：{url}" if url else ""
    link_en = f"\nOr answer on this page: {url}" if url else ""
    return (
        f"{greeting}\n\n"
        f"感谢您使用我们的服务。为了做得更好，请花一分钟直接回复本邮件（调查 {campaign}）：\n"
        "第一行写  1 满意    2 一般    3 不满意\n"
        f"第二行起写下您的意见或建议。{link_zh}\n"
        "不想再收到调查？回复“退订”即可。\n\n"
        f"Hello, thank you for choosing us. Please reply to this mail (survey {campaign}):\n"
        "first line  1 satisfied    2 neutral    3 dissatisfied\n"
        f"then any comments or suggestions.{link_en}\n"
        'To stop receiving surveys, reply "unsubscribe".\n'
    )


def plan_campaign(
    session: Session,
    campaign: str,
    recipients: Iterable[Recipient],
    signer: LinkSigner | None,
    *,
    mail_from: str,
    now: datetime,
    limit: int | None = None,
) -> Plan:
    """One pending questionnaire per new, not opted-out recipient (up to ``limit``)."""
    plan = Plan()
    unique: dict[str, Recipient] = {}
    for r in recipients:  # the first mention of an address, with the first name given for it
        known = unique.get(r.address)
        if known is None or (not known.name and r.name):
            unique[r.address] = r
    wanted = list(unique.values())
    out = {a for a in session.scalars(select(OptOut.address))}
    have = set(session.scalars(select(Followup.address).where(Followup.kind == "survey", Followup.campaign == campaign)))
    for recipient in wanted:
        if recipient.address in out:
            plan.opted_out += 1
            continue
        if recipient.address in have:
            plan.already += 1
            continue
        if limit is not None and plan.queued >= limit:
            break
        token = new_token()
        row = Followup(
            key=f"survey:{campaign}:{recipient.address}"[:191],
            token=token,
            kind="survey",
            campaign=campaign,
            channel="email",
            address=recipient.address,
            subject=f"客户满意度调查 Customer survey {campaign} [SV:{token}]",
            body=survey_body(campaign, recipient.name, link(signer, token, now)),
            message_id=f"<survey-{token}@{domain_of(mail_from)}>",
            status="pending",
            attempts=0,
            created_at=now,
        )
        session.add(row)
        session.flush()
        plan.rows.append(row.id)
        plan.queued += 1
    return plan


def survey_token(item: NewMessage) -> str | None:
    """The questionnaire token a reply carries: ``[SV:…]`` in its subject, or our Message-ID in its refs."""
    found = _TOKEN.search(item.message.title or "")
    if found:
        return found.group(1)
    for ref in item.message.refs:
        match = _MSGID.match(ref)
        if match:
            return match.group(1)
    return None


def record_opt_out(session: Session, address: str | None, *, channel: str, campaign: str | None, raw: str, now: datetime) -> bool:
    """Record ``address`` as opted out (once); False when there is no address or it already was."""
    if not address:
        return False
    if session.scalar(select(OptOut.id).where(OptOut.address == address)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(OptOut(address=address[:191], channel=channel, campaign=campaign, raw=raw[:2000], at=now))
            session.flush()
    except IntegrityError:  # recorded meanwhile by another instance
        return False
    return True


def _answer(
    session: Session, followup: Followup, score: Score, text: str, *, channel: str, raw: str, now: datetime,
    message_id: int | None = None,
) -> SurveyAnswer:  # fmt: skip
    row = SurveyAnswer(
        campaign=followup.campaign or "",
        followup_id=followup.id,
        address=followup.address,
        score=score,
        answer=ANSWERS[score],
        text=text[:4000],
        channel=channel[:32],
        message_id=message_id,
        raw=raw[:4000],
        at=now,
    )
    session.add(row)
    followup.answered_at = now
    return row


@dataclass
class Replies:
    """What ``take_survey_replies`` found in a batch."""

    answers: int = 0
    opt_outs: int = 0
    negative: dict[int, SurveyAnswer] = field(default_factory=dict)  # message row id -> its answer


def take_survey_replies(session: Session, new: Sequence[NewMessage], now: datetime) -> tuple[list[NewMessage], Replies]:
    """Survey replies out of the batch: answers stored, opt-outs recorded; only dissatisfied
    answers (and replies that answer nothing) flow on to become tickets."""
    found = Replies()
    keep: list[NewMessage] = []
    tokens = {i.row.id: t for i in new if (t := survey_token(i)) is not None}
    if not tokens:
        return list(new), found
    rows = {f.token: f for f in session.scalars(select(Followup).where(Followup.token.in_(set(tokens.values())), Followup.kind == "survey"))}
    for item in new:
        followup = rows.get(tokens.get(item.row.id, ""))
        if followup is None:
            keep.append(item)
            continue
        text = item.message.text
        if is_opt_out(text):
            found.opt_outs += int(record_opt_out(session, followup.address, channel="reply", campaign=followup.campaign, raw=text, now=now))
            continue
        answer = parse_answer(text)
        if answer is None or followup.answered_at is not None:
            keep.append(item)  # a question or a second message: handled like any customer message
            continue
        row = _answer(session, followup, answer.score, answer.text, channel=item.message.channel or "email", raw=text, now=now, message_id=item.row.id)
        found.answers += 1
        if answer.score == "dissatisfied":
            found.negative[item.row.id] = row
            keep.append(item)
    return keep, found


def mark_survey_tickets(session: Session, changes: Sequence[TicketChange], replies: Replies, now: datetime) -> int:
    """Tickets made from dissatisfied answers: channel ``survey`` (its SLA profile), a complaint,
    tagged with the campaign; the answer points at its ticket."""
    marked = 0
    for change in changes:
        for item in change.messages:
            answer = replies.negative.get(item.row.id)
            if answer is None:
                continue
            answer.ticket_id = change.ticket.id
            if change.created:
                _survey_ticket(change.ticket, answer)
                session.add(TicketEvent(ticket_id=change.ticket.id, kind="field", new_value=f"channel={SURVEY_CHANNEL}",
                                        actor="survey", note=f"调查 {answer.campaign} 不满意 dissatisfied", at=now))  # fmt: skip
                marked += 1
    return marked


def _survey_ticket(ticket: Ticket, answer: SurveyAnswer) -> None:
    ticket.channel = SURVEY_CHANNEL
    ticket.feedback_type = ticket.feedback_type or "complaint"
    ticket.tags = sorted({*(ticket.tags or []), f"survey:{answer.campaign}"})
    ticket.customer_contact = ticket.customer_contact or answer.address


def answer_survey_link(
    session: Session, followup: Followup, score: Score | None, text: str, *, opt_out: bool, now: datetime
) -> Outcome:
    """The page's answer to a questionnaire (a dissatisfied one becomes a ticket at once)."""
    if opt_out:
        record_opt_out(session, followup.address, channel="link", campaign=followup.campaign, raw=text, now=now)
        return "opted-out"
    if followup.answered_at is not None:
        return "already"
    if score is None:
        return "unknown"
    row = _answer(session, followup, score, text, channel="link", raw=text, now=now)
    if score == "dissatisfied":
        row.ticket_id = link_ticket(session, followup, text, now).id
    return "recorded"


def link_ticket(session: Session, followup: Followup, text: str, now: datetime) -> Ticket:
    """A ticket for a dissatisfied answer given on the page (no message: its text is the content)."""
    source = session.scalars(select(Source).where(Source.name == SURVEY_CHANNEL)).first()
    if source is None:
        source = Source(name=SURVEY_CHANNEL, kind=SURVEY_CHANNEL)
        session.add(source)
        session.flush()
    title = f"调查不满意 Survey {followup.campaign}: {text.strip().splitlines()[0] if text.strip() else '-'}"
    ticket = Ticket(
        source_id=source.id, channel=SURVEY_CHANNEL, thread_key=f"survey:{followup.token}", title=title[:255],
        status="received", priority="L3", feedback_type="complaint", content=text, customer_contact=followup.address,
        tags=[f"survey:{followup.campaign}"], created_at=now, updated_at=now, received_at=now,
    )  # fmt: skip
    session.add(ticket)
    session.flush()
    ticket.code = ticket_code(ticket.id)
    session.add(TicketEvent(ticket_id=ticket.id, kind="created", new_value="received", actor="survey", at=now))
    return ticket


def campaign_results(session: Session, campaign: str) -> dict[str, Any]:
    """Counts and answers of one campaign (``yuqing survey results``)."""
    f = Followup
    sent = dict(
        session.execute(
            select(f.status, func.count()).where(f.kind == "survey", f.campaign == campaign).group_by(f.status)
        ).tuples().all()
    )
    answers = list(session.scalars(select(SurveyAnswer).where(SurveyAnswer.campaign == campaign).order_by(SurveyAnswer.id)))
    codes = dict(session.execute(select(Ticket.id, Ticket.code).where(Ticket.id.in_([a.ticket_id for a in answers if a.ticket_id]))).tuples().all())
    by_score = {s: sum(1 for a in answers if a.score == s) for s in ANSWERS}
    total = len(answers)
    opted = session.scalar(select(func.count()).select_from(OptOut).where(OptOut.campaign == campaign)) or 0
    return {
        "campaign": campaign,
        "questionnaires": sum(sent.values()),
        "sent": sent.get("sent", 0),
        "pending": sent.get("pending", 0),
        "failed": sent.get("failed", 0),
        "answers": total,
        "satisfied": by_score["satisfied"],
        "neutral": by_score["neutral"],
        "dissatisfied": by_score["dissatisfied"],
        "satisfaction_rate": round(by_score["satisfied"] / total, 4) if total else None,
        "response_rate": round(total / sent.get("sent", 0), 4) if sent.get("sent") else None,
        "opted_out": int(opted),
        "items": [
            {"score": a.score, "answer": a.answer, "channel": a.channel, "text": a.text,
             "ticket": codes.get(a.ticket_id) if a.ticket_id else None, "at": a.at.isoformat()}
            for a in answers
        ],
    }
