"""Satisfaction and second handling, end to end: a resolved e-mail ticket gets a reply on its
thread through a real SMTP server; the customer's reply, run through the real mail parser and
pipeline, is stored — dissatisfied reopens the ticket and raises its priority; other channels get
a signed link to the page served by uvicorn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy import select

from connectors.mail.parse import parse_email
from monitor.alerts.links import LinkSigner
from monitor.alerts.senders.email import EmailConfig
from monitor.feedback.job import run_followups
from monitor.feedback.settings import FeedbackConfig, SatisfactionConfig
from monitor.http.satisfaction import satisfaction_router
from monitor.message import Author, Batch, Message
from monitor.pipeline import process_batch
from monitor.storage.db import Database
from monitor.storage.models import Followup, Satisfaction, Ticket, TicketEvent
from monitor.targets import TargetConfig
from monitor.tickets.lifecycle import set_status
from monitor.tickets.satisfaction import parse_answer
from tests.feedback.conftest import Inbox
from tests.helpers.builders import KeywordStub
from tests.helpers.context import context
from tests.helpers.http_sla import fetch, link_fields, serve

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
ANALYZER = KeywordStub({"退款": ("L3", False)})
SIGNER = LinkSigner(b"k" * 32, "http://127.0.0.1:1", timedelta(days=14))


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("1", "satisfied"),
        ("２", "neutral"),  # full-width digit
        ("3 还是没有解决", "dissatisfied"),
        ("【3】", "dissatisfied"),
        ("满意，谢谢", "satisfied"),
        ("非常满意！", "satisfied"),
        ("一般般吧", "neutral"),
        ("不满意", "dissatisfied"),
        ("不滿意，東西還是壞的", "dissatisfied"),
        ("滿意", "satisfied"),
        ("Satisfied, thanks", "satisfied"),
        ("neutral", "neutral"),
        ("I am dissatisfied", "dissatisfied"),
        ("\n\n> 1 满意 2 一般 3 不满意\n", None),  # only the quoted question
        ("On Tue, Support wrote:\n> 1 满意", None),
        ("订单 12345 什么时候发货", None),
        ("我的快递还没到，客服说会满意答复的，到底什么时候处理", None),  # 满意 beyond the first words
        ("10 点给我回电话", None),
    ],
    ids=lambda v: str(v)[:12],
)
def test_answers_are_read_from_the_first_own_line(text: str, score: str | None) -> None:
    answer = parse_answer(text)
    assert (answer.score if answer else None) == score


def _mail(mid: str, subject: str, body: str, *, when: datetime, reply_to: str = "", refs: str = "") -> Message:
    headers = [
        "From: 李雷 <lilei@example.cn>",
        "To: kefu@shop.example",
        f"Subject: {subject}",
        f"Message-ID: {mid}",
        f"Date: {format_datetime(when)}",
    ]
    if reply_to:
        headers.append(f"In-Reply-To: {reply_to}")
    if refs:
        headers.append(f"References: {refs}")
    raw = "\r\n".join([*headers, "Content-Type: text/plain; charset=utf-8", "", body])
    return parse_email(raw.encode(), source="inbox")


def _ingest(db: Database, *messages: Message, now: datetime) -> None:
    process_batch(context(db, ANALYZER, now=now), "inbox", "maildir", Batch(tuple(messages), {}))


def _resolve(db: Database, code: str, at: datetime) -> None:
    with db.transaction() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.code == code)).one()
        set_status(session, ticket, "processing", actor="wangfang", now=at)
        set_status(session, ticket, "resolved", actor="wangfang", now=at)


def _config(inbox: Inbox) -> tuple[FeedbackConfig, list[TargetConfig]]:
    settings = EmailConfig.model_validate(
        {"host": "127.0.0.1", "port": inbox.port, "security": "none", "from": "kefu@shop.example", "to": ["ops@shop.example"]}
    )
    target = TargetConfig(name="mail", kind="email", enabled=False, settings=settings)
    return FeedbackConfig(satisfaction=SatisfactionConfig(mail_target="mail")), [target]


def test_email_follow_up_on_the_thread_and_a_dissatisfied_reply_reopens_and_raises(
    sqlite_db: Database, smtp: Inbox
) -> None:
    feedback, targets = _config(smtp)
    first = _mail("<a1@mail.example.cn>", "退款还没到账", "申请退款两周了还没到账", when=T0)
    _ingest(sqlite_db, first, now=T0)
    _resolve(sqlite_db, "Q000001", T0 + timedelta(hours=2))
    now = datetime.now(UTC)
    run = run_followups(sqlite_db, feedback, targets, SIGNER, now=now)
    assert (run.queued, run.mail.sent) == (1, 1)
    assert run_followups(sqlite_db, feedback, targets, SIGNER, now=now).queued == 0, "one follow-up per resolve"
    assert len(smtp.mails) == 1
    mail = smtp.mails[0]
    assert mail["To"] == "lilei@example.cn"
    assert mail["Subject"] == "Re: [Q000001] 退款还没到账"
    assert mail["In-Reply-To"] == "<a1@mail.example.cn>" and "<a1@mail.example.cn>" in mail["References"]
    body = mail.get_content()
    assert "1 满意" in body and "3 不满意" in body and "3 dissatisfied" in body
    assert "http://127.0.0.1:1/satisfaction?code=" in body

    reply = _mail(
        "<r1@mail.example.cn>",
        f"Re: {mail['Subject']}",
        "3 钱还是没退回来\n\n在 2026-11-24 写道：\n> 1 满意  2 一般  3 不满意",
        when=T0 + timedelta(days=1),
        reply_to=mail["Message-ID"],
        refs=f"<a1@mail.example.cn> {mail['Message-ID']}",
    )
    _ingest(sqlite_db, reply, now=T0 + timedelta(days=1))
    with sqlite_db.read() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert (ticket.status, ticket.priority) == ("reopened", "L2")
        answer = session.scalars(select(Satisfaction)).one()
        assert (answer.ticket_id, answer.score, answer.answer, answer.channel) == (ticket.id, "dissatisfied", "不满意", "email")
        assert answer.raw.startswith("3 钱还是没退回来") and answer.message_id is not None
        trail = [(e.kind, e.old_value, e.new_value, e.actor) for e in session.scalars(select(TicketEvent).order_by(TicketEvent.id))]
        assert ("satisfaction", None, "dissatisfied", "customer") in trail
        assert ("status", "resolved", "reopened", "satisfaction") in trail
        assert ("priority", "L3", "L2", "satisfaction") in trail
        assert session.scalars(select(Followup)).one().answered_at is not None


def test_a_satisfied_reply_keeps_the_ticket_resolved_and_a_plain_message_reopens_it(
    sqlite_db: Database, smtp: Inbox
) -> None:
    feedback, targets = _config(smtp)
    _ingest(sqlite_db, _mail("<b1@mail.example.cn>", "退款问题", "退款什么时候到", when=T0), now=T0)
    _resolve(sqlite_db, "Q000001", T0 + timedelta(hours=1))
    run_followups(sqlite_db, feedback, targets, SIGNER, now=datetime.now(UTC))
    sent = smtp.mails[0]
    happy = _mail("<b2@mail.example.cn>", f"Re: {sent['Subject']}", "滿意，謝謝", when=T0 + timedelta(hours=5), reply_to=sent["Message-ID"])
    _ingest(sqlite_db, happy, now=T0 + timedelta(hours=5))
    with sqlite_db.read() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert (ticket.status, ticket.priority) == ("resolved", "L3")
        assert [s.score for s in session.scalars(select(Satisfaction))] == ["satisfied"]
    again = _mail("<b3@mail.example.cn>", f"Re: {sent['Subject']}", "满意，另外我还想问发票的事", when=T0 + timedelta(hours=6), reply_to=sent["Message-ID"])
    _ingest(sqlite_db, again, now=T0 + timedelta(hours=6))  # the follow-up is answered: a new message
    with sqlite_db.read() as session:
        assert session.scalars(select(Ticket.status)).one() == "reopened"
        assert len(session.scalars(select(Satisfaction)).all()) == 1


def test_other_channels_get_a_signed_link_to_the_page(sqlite_db: Database) -> None:
    chat = Message(
        source="wechat", external_id="c1", thread_key="room-1", text="退款申请一直没人处理",
        created_at=T0, channel="chat", author=Author(id="wx_123", display_name="韩梅梅"),
    )  # fmt: skip
    process_batch(context(sqlite_db, ANALYZER, now=T0), "wechat", "chat_export", Batch((chat,), {}))
    _resolve(sqlite_db, "Q000001", T0 + timedelta(hours=1))
    run = run_followups(sqlite_db, FeedbackConfig(), [], SIGNER, now=datetime.now(UTC))
    assert (run.queued, run.ready, run.mail.sent) == (1, 1, 0)
    with sqlite_db.read() as session:
        followup = session.scalars(select(Followup)).one()
    assert (followup.channel, followup.status) == ("chat", "ready")
    url = next(w for w in followup.body.split() if w.startswith("http://"))
    fields = link_fields(url)
    with serve(satisfaction_router(sqlite_db, SIGNER)) as base:
        status, page = fetch(f"{base}/satisfaction?{url.split('?', 1)[1]}")
        assert status == 200 and 'lang="zh-CN"' in page and "Q000001" in page and "不满意 dissatisfied" in page
        forged = dict(fields, sig="0" * 64)
        assert fetch(f"{base}/satisfaction", {**forged, "score": "1"})[0] == 403
        status, page = fetch(f"{base}/satisfaction", {**fields, "score": "3", "text": "根本没人联系我"})
        assert status == 200 and "感谢您的评价" in page
        status, page = fetch(f"{base}/satisfaction", {**fields, "score": "1"})
        assert status == 200 and "已评价过" in page
    with sqlite_db.read() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert (ticket.status, ticket.priority) == ("reopened", "L2")
        answers = [(s.score, s.channel, s.raw) for s in session.scalars(select(Satisfaction))]
        assert answers == [("dissatisfied", "link", "根本没人联系我")]
    from monitor.reports.period import Month
    from monitor.reports.sections import satisfaction_rate, satisfaction_section

    with sqlite_db.read() as session:
        at = session.scalars(select(Satisfaction.at)).one()
    with sqlite_db.engine.connect() as conn:
        section = satisfaction_section(conn, Month(at.year, at.month))
        before = satisfaction_section(conn, Month(at.year, at.month).shift(-1))
    assert section.available and not before.available
    assert [(r["answers"], r["satisfied"], r["dissatisfied"]) for r in section.rows] == [(1, 0, 1)]
    assert satisfaction_rate(section, complaints_only=False) == 0.0


def test_an_unreachable_smtp_server_keeps_the_follow_up_pending_then_fails_it(sqlite_db: Database, smtp: Inbox) -> None:
    import socket

    from monitor.feedback.mailer import LEASE, MAX_ATTEMPTS, deliver_followups, email_sender

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = Inbox(int(probe.getsockname()[1]))
    feedback, targets = _config(dead)
    _ingest(sqlite_db, _mail("<d1@mail.example.cn>", "退款", "退款没到", when=T0), now=T0)
    _resolve(sqlite_db, "Q000001", T0 + timedelta(hours=1))
    run = run_followups(sqlite_db, feedback, targets, SIGNER, now=datetime.now(UTC))
    assert (run.queued, run.mail.sent, run.mail.retry) == (1, 0, 1)
    with sqlite_db.transaction() as session:
        row = session.scalars(select(Followup)).one()
        assert (row.status, row.attempts) == ("pending", 1) and row.last_error
        row.status, row.sent_at = "sending", datetime.now(UTC) - LEASE - timedelta(minutes=1)  # a crashed run's claim
    sender = email_sender(_config(smtp)[1], "mail")
    assert sender is not None
    assert deliver_followups(sqlite_db, sender).sent == 1, "the stale claim was released and sent"
    assert len(smtp.mails) == 1
    dead_sender = email_sender(targets, "mail")
    assert dead_sender is not None
    with sqlite_db.transaction() as session:
        session.scalars(select(Followup)).one().status = "pending"
    for _ in range(MAX_ATTEMPTS):
        deliver_followups(sqlite_db, dead_sender)
    with sqlite_db.read() as session:
        assert session.scalars(select(Followup.status)).one() == "failed"
