"""The feedback tables on SQLite, PostgreSQL and MariaDB: a follow-up per resolve, an answer once,
second handling, survey questionnaires, opt-outs recorded once, a ticket from a page answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from monitor.alerts.links import LinkSigner
from monitor.feedback.answers import answer_by_link
from monitor.feedback.followups import queue_satisfaction
from monitor.feedback.settings import SatisfactionConfig
from monitor.feedback.surveys import Recipient, plan_campaign, record_opt_out
from monitor.storage.db import Database
from monitor.storage.models import Followup, OptOut, Source, SurveyAnswer, Ticket, TicketEvent

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
SIGNER = LinkSigner(b"k" * 32, "http://127.0.0.1:1")


def _resolved_ticket(db: Database) -> int:
    with db.transaction() as session:
        source = Source(name="forum", kind="rss")
        session.add(source)
        session.flush()
        ticket = Ticket(code="Q000001", source_id=source.id, channel="forum", thread_key="t1", title="退款",
                        status="resolved", priority="L3", created_at=T0, updated_at=T0)  # fmt: skip
        session.add(ticket)
        session.flush()
        session.add(TicketEvent(ticket_id=ticket.id, kind="created", new_value="received", at=T0))
        session.add(TicketEvent(ticket_id=ticket.id, kind="status", old_value="received", new_value="resolved",
                                actor="wangfang", at=T0 + timedelta(hours=1)))  # fmt: skip
        return ticket.id


def test_satisfaction_by_link_once_with_second_handling(any_db: Database) -> None:
    ticket_id = _resolved_ticket(any_db)
    now = T0 + timedelta(hours=2)
    for expected in (1, 0):
        with any_db.transaction() as session:
            made = queue_satisfaction(session, SatisfactionConfig(), SIGNER, mail_from=None, now=now)
            assert len(made) == expected
    with any_db.read() as session:
        followup = session.scalars(select(Followup)).one()
    assert (followup.status, followup.channel) == ("ready", "forum") and "/satisfaction?code=" in followup.body
    assert answer_by_link(any_db, followup.token, "dissatisfied", "没解决", now=now) == "recorded"
    assert answer_by_link(any_db, followup.token, "satisfied", "", now=now) == "already"
    assert answer_by_link(any_db, "nope", "satisfied", "", now=now) == "unknown"
    with any_db.read() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None and (ticket.status, ticket.priority) == ("reopened", "L2")


def test_survey_rows_opt_outs_and_a_ticket_from_the_page(any_db: Database) -> None:
    people = [Recipient("a@kehu.cn", "甲"), Recipient("b@kehu.cn"), Recipient("a@kehu.cn")]
    with any_db.transaction() as session:
        assert record_opt_out(session, "b@kehu.cn", channel="reply", campaign="2026Q3", raw="退订", now=T0)
        assert not record_opt_out(session, "b@kehu.cn", channel="link", campaign="2026Q3", raw="", now=T0)
        plan = plan_campaign(session, "2026Q4", people, SIGNER, mail_from="kefu@shop.example", now=T0)
    assert (plan.queued, plan.opted_out) == (1, 1)
    with any_db.read() as session:
        row = session.scalars(select(Followup).where(Followup.kind == "survey")).one()
        assert session.scalars(select(OptOut.channel)).all() == ["reply"]
    assert row.subject.endswith(f"[SV:{row.token}]") and row.body.startswith("甲，您好")
    assert answer_by_link(any_db, row.token, "dissatisfied", "物流太慢\n第二次了", now=T0) == "recorded"
    with any_db.read() as session:
        answer = session.scalars(select(SurveyAnswer)).one()
        ticket = session.get(Ticket, answer.ticket_id)
        assert ticket is not None and (ticket.code, ticket.channel, ticket.status) == (f"Q{ticket.id:06d}", "survey", "received")
        assert ticket.title.endswith("物流太慢") and ticket.customer_contact == "a@kehu.cn"
