"""Satisfaction follow-ups: one per resolve, written before it is sent (``followups``).

The ``housekeeping:followups`` job finds tickets resolved (within ``within_days``) whose latest
resolve event has no follow-up yet, and writes one:

* an **e-mail ticket** with a known customer address gets a reply on its thread — ``Re: [Q…]``
  subject, ``In-Reply-To`` the customer's latest message, ``References`` the thread's messages —
  asking for 1 满意 / 2 一般 / 3 不满意 (and the signed link to the page when links are on);
  the customer's reply threads back onto the ticket and is read by ``monitor.tickets.satisfaction``;
* any other channel gets the message template (status ``ready``) with the signed link, for staff
  to post where the customer wrote.

Then the pending e-mails are sent (``monitor.feedback.mailer``).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from monitor.alerts.links import FEEDBACK, LinkSigner
from monitor.feedback.settings import SatisfactionConfig
from monitor.storage.models import Followup, StoredMessage, Ticket, TicketEvent
from monitor.tickets.service import ticket_subject

MAX_REFS = 20


@dataclass(frozen=True, slots=True)
class Thread:
    """What a reply on the ticket's mail thread needs from the stored messages."""

    address: str | None
    name: str
    subject: str
    in_reply_to: str | None
    refs: tuple[str, ...]


def new_token() -> str:
    return secrets.token_urlsafe(12)


def link(signer: LinkSigner | None, token: str, now: datetime) -> str:
    return signer.url(token, FEEDBACK, now) if signer is not None else ""


def mail_thread(session: Session, ticket: Ticket) -> Thread:
    rows = session.execute(
        select(StoredMessage.ref_id, StoredMessage.author_id, StoredMessage.author_name, StoredMessage.title)
        .where(StoredMessage.ticket_id == ticket.id)
        .order_by(StoredMessage.created_at, StoredMessage.id)
    ).all()
    refs = tuple(dict.fromkeys(r.ref_id for r in rows if r.ref_id and r.ref_id.startswith("<")))
    customer = [r for r in rows if r.author_id and "@" in r.author_id]
    contact = ticket.customer_contact if ticket.customer_contact and "@" in ticket.customer_contact else None
    address = contact or (customer[-1].author_id if customer else None)
    name = ticket.customer_name or (customer[-1].author_name if customer else "") or ""
    subject = rows[0].title if rows and rows[0].title else ticket.title
    return Thread(address, name, subject, refs[-1] if refs else None, refs[-MAX_REFS:])


def satisfaction_body(code: str, name: str, url: str) -> str:
    greeting = f"{name}，您好：" if name else "您好："
    link_zh = f"\n也可以点击链接评价：{url}" if url else ""
    link_en = f"\nOr answer on this page: {url}" if url else ""
    return (
        f"{greeting}\n\n"
        f"您反馈的问题（工单 {code}）已处理完毕。请直接回复本邮件，第一行写：\n"
        "  1 满意    2 一般    3 不满意\n"
        f"也欢迎写下您的意见。{link_zh}\n\n"
        f"Hello, your request {code} has been resolved. Please reply with one of these on the first line:\n"
        "  1 satisfied    2 neutral    3 dissatisfied\n"
        f"and any comments you have.{link_en}\n"
    )


def domain_of(address: str | None) -> str:
    return (address or "").rpartition("@")[2] or "yuqing.local"


def build_satisfaction(
    session: Session,
    ticket: Ticket,
    event_id: int,
    config: SatisfactionConfig,
    signer: LinkSigner | None,
    *,
    mail_from: str | None,
    now: datetime,
) -> Followup:
    token = new_token()
    code = ticket.code or f"#{ticket.id}"
    url = link(signer, token, now)
    thread = mail_thread(session, ticket) if ticket.channel == "email" else None
    common = {"key": f"satisfaction:{event_id}", "token": token, "kind": "satisfaction", "ticket_id": ticket.id,
              "event_id": event_id, "created_at": now, "attempts": 0}  # fmt: skip
    if thread is not None and thread.address and mail_from:
        base = re.sub(r"^(re|回复|答复)\s*[:：]\s*", "", thread.subject, flags=re.IGNORECASE)
        return Followup(
            **common,
            channel="email",
            address=thread.address,
            subject=f"Re: {ticket_subject(base, ticket.code)}"[:255],
            body=satisfaction_body(code, thread.name, url),
            message_id=f"<followup-{token}@{domain_of(mail_from)}>",
            in_reply_to=thread.in_reply_to,
            refs=" ".join(thread.refs) or None,
            status="pending",
        )
    return Followup(
        **common,
        channel=ticket.channel or "template",
        address=thread.address if thread is not None else None,
        subject=ticket_subject("满意度回访 Satisfaction follow-up", ticket.code),
        body=config.template.format(code=code, link=url).strip(),
        message_id="",
        status="ready",
    )


def queue_satisfaction(
    session: Session,
    config: SatisfactionConfig,
    signer: LinkSigner | None,
    *,
    mail_from: str | None,
    now: datetime,
) -> list[Followup]:
    """Follow-ups for resolved tickets whose latest resolve has none yet (caller's transaction)."""
    if not config.enabled:
        return []
    e = TicketEvent
    has = exists(select(Followup.id).where(Followup.event_id == e.id))
    query = (
        select(e.id, e.ticket_id)
        .join(Ticket, Ticket.id == e.ticket_id)
        .where(
            e.kind == "status",
            e.new_value == "resolved",
            e.at >= now - timedelta(days=config.within_days),
            Ticket.status == "resolved",
            ~has,
        )
        .order_by(e.id)
    )
    latest: dict[int, int] = {}
    for event_id, ticket_id in session.execute(query):
        latest[ticket_id] = event_id
    made: list[Followup] = []
    for ticket_id, event_id in latest.items():
        if session.scalar(select(Followup.id).where(Followup.ticket_id == ticket_id, Followup.event_id > event_id)):
            continue
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        followup = build_satisfaction(session, ticket, event_id, config, signer, mail_from=mail_from, now=now)
        session.add(followup)
        made.append(followup)
    session.flush()
    return made
