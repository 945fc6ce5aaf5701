"""SLA notices through the one route, end to end with a frozen clock and a real HTTP receiver:
75 % gives one warning to the ticket's route; 100 % pages the on-call chain and escalates until
the clock stops; re-runs duplicate nothing; answered tickets and business-hours nights give none;
``sla_results`` feeds the monthly report's SLA section."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from monitor.alerts.outbox import Outbox
from monitor.alerts.render import render
from monitor.alerts.senders.registry import sender_class
from monitor.config import AlertsConfig
from monitor.reports.period import Month
from monitor.reports.sections import attainment, sla_section
from monitor.sla.settings import CalendarsConfig, SlaConfig
from monitor.storage.db import Database
from monitor.storage.models import Alert, SlaResult, Source, Story, Ticket, TicketEvent
from monitor.stories.lifecycle import acknowledge_ref, run_timers
from monitor.stories.sla import run_sla
from monitor.targets import TargetConfig
from tests.helpers.context import settings
from tests.helpers.oncall import PRIMARY_THEN_SECONDARY, day_and_backup
from tests.helpers.receiver import Receiver, receiver

SLA, CALENDARS = SlaConfig(), CalendarsConfig()
T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # Tuesday 11:00 in Shanghai: the day rotation is on
M = timedelta(minutes=1)
HOOKS = ("team-chat", "sla-chat", "zhang", "wang", "ops")
ONCALL = {
    "people": {"zhang": {"name": "张伟", "targets": ["zhang"]}, "wang": {"name": "王芳", "targets": ["wang"]}},
    "teams": {
        "pr": {
            "timezone": "Asia/Shanghai",
            "rotations": day_and_backup(),
            "escalation": PRIMARY_THEN_SECONDARY,
            "repeat_minutes": 60,
        }
    },
}  # fmt: skip
ROUTE = {
    "receivers": ["team-chat"],
    "oncall": "pr",
    "group_wait": 0,
    "routes": [
        {"name": "sla", "match": {"kind": ["sla"]}, "receivers": ["sla-chat"]},
        {"name": "operators", "match": {"kind": ["operator"]}, "receivers": ["ops"]},
    ],
}


def _stories() -> Any:
    return settings([TargetConfig(name=n, kind="webhook") for n in HOOKS], route=ROUTE, oncall=ONCALL)


def _outbox(db: Database, r: Receiver) -> Outbox:
    hook = sender_class("webhook")
    senders = {n: hook(n, hook.Config.model_validate({"url": f"{r.url}/{n}"})) for n in HOOKS}
    return Outbox(db, senders, AlertsConfig(), instance="t")


def _ticket(db: Database, code: str, priority: str, created: datetime, *events: tuple[str, datetime]) -> int:
    with db.transaction() as session:
        source = session.scalar(select(Source).where(Source.name == "mail"))
        if source is None:
            source = Source(name="mail", kind="imap")
            session.add(source)
            session.flush()
        ticket = Ticket(
            code=code, source_id=source.id, channel="email", thread_key=code, title=f"退款问题 {code}",
            status="received", priority=priority, created_at=created, updated_at=created, department="售后服务部",
        )  # fmt: skip
        session.add(ticket)
        session.flush()
        session.add(TicketEvent(ticket_id=ticket.id, kind="created", new_value="received", at=created))
        for kind, at in events:
            session.add(TicketEvent(ticket_id=ticket.id, kind=kind, actor="wangfang", at=at))
        return ticket.id


def _sent(r: Receiver, start: int = 0) -> list[tuple[str, str, str]]:
    return [(q.path.strip("/"), q.json["kind"], q.json.get("level") or q.json.get("step", "")) for q in r.requests[start:]]


def _rows(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Alert)) or 0)


def test_warning_then_breach_paged_along_the_chain_once(sqlite_db: Database) -> None:
    stories = _stories()
    _ticket(sqlite_db, "Q000001", "L1", T0)  # L1: 24x7, first response within 1 h
    _ticket(sqlite_db, "Q000002", "L1", T0, ("responded", T0 + 10 * M))  # answered in time: never a notice
    with receiver() as r:
        outbox = _outbox(sqlite_db, r)
        run = run_sla(sqlite_db, stories, SLA, CALENDARS, now=T0 + 44 * M)
        assert (run.warnings, run.breaches, run.operator, run.rows) == (0, 0, 1, 1)  # December: 2027 unknown
        outbox.deliver()
        assert _sent(r) == [("ops", "operator", "operator")]
        assert "2027" in r.requests[0].json["title"]
        del r.requests[:]
        run = run_sla(sqlite_db, stories, SLA, CALENDARS, now=T0 + 45 * M)
        assert (run.warnings, run.breaches, run.rows) == (1, 0, 1)
        outbox.deliver()
        assert _sent(r) == [("sla-chat", "sla", "warning")], "the warning goes to the ticket's route only"
        warning = r.requests[0].json
        assert (warning["ticket"], warning["clock"], warning["percent"]) == ("Q000001", "first_response", 75.0)
        text = render("text", warning)
        assert text.startswith("【SLA 预警 warning】L1 工单 Ticket Q000001 · 首次响应 first response 已用 75.0% used")
        assert "部门 Department: 售后服务部" in text and "yuqing sla show Q000001" in text

        for minute in (46, 50, 59):
            assert run_sla(sqlite_db, stories, SLA, CALENDARS, now=T0 + minute * M).rows == 0
        run = run_sla(sqlite_db, stories, SLA, CALENDARS, now=T0 + 60 * M)
        assert (run.warnings, run.breaches) == (0, 1)
        outbox.deliver()
        assert sorted(_sent(r, 1)) == [("sla-chat", "sla", "breach"), ("zhang", "sla", "breach")]
        page = next(q.json for q in r.requests if q.path == "/zhang")
        assert [p["name"] for p in page["recipients"]] == ["张伟"]
        story_code = page["story"]
        assert story_code.startswith("S") and page["ack_command"] == f"yuqing ack {story_code}"
        assert "【SLA 超时 breached】L1 工单 Ticket Q000001" in render("markdown", page)

        for minute in (61, 62, 70):  # re-runs (and a second look at the same minute) add nothing
            assert run_sla(sqlite_db, stories, SLA, CALENDARS, now=T0 + minute * M).rows == 0
        before = _rows(sqlite_db)
        assert run_timers(sqlite_db, stories, now=T0 + 75 * M).escalated == 1  # 15 min unacknowledged
        outbox.deliver()
        assert ("wang", "sla", "breach") in _sent(r, 3)
        escalated = next(q.json for q in r.requests if q.path == "/wang")
        assert escalated["step"] == "page:1:0" and "升级通知 unacknowledged, escalated" in render("text", escalated)
        assert run_sla(sqlite_db, stories, SLA, CALENDARS, now=T0 + 76 * M).rows == 0
        assert _rows(sqlite_db) == before + 1

        with sqlite_db.transaction() as session:  # the agent answers: the clock stops, the page story ends
            ticket = session.scalars(select(Ticket).where(Ticket.code == "Q000001")).one()
            session.add(TicketEvent(ticket_id=ticket.id, kind="responded", actor="wangfang", at=T0 + 80 * M))
        run = run_sla(sqlite_db, stories, SLA, CALENDARS, now=T0 + 81 * M)
        assert run.resolved >= 1
        with sqlite_db.read() as session:
            story = session.scalars(select(Story).where(Story.kind == "sla")).one()
            assert (story.state, story.resolved_by) == ("resolved", "sla")
            assert session.scalar(select(Ticket.status).where(Ticket.code == "Q000001")) == "received"
            keys = session.scalars(select(Alert.dedupe_key).where(Alert.ticket_id.is_not(None))).all()
            assert all("Q000002" not in k for k in keys)
            q2 = session.scalar(select(Ticket.id).where(Ticket.code == "Q000002"))
            assert session.scalar(select(func.count()).select_from(Alert).where(Alert.ticket_id == q2)) == 0
        assert run_timers(sqlite_db, stories, now=T0 + 200 * M).escalated == 0, "no escalation after the clock stopped"


def test_acknowledging_the_breach_stops_the_chain(sqlite_db: Database) -> None:
    stories = _stories()
    _ticket(sqlite_db, "Q000001", "L1", T0)
    run_sla(sqlite_db, stories, SLA, CALENDARS, now=T0 + 61 * M)
    with sqlite_db.read() as session:
        story = session.scalars(select(Story).where(Story.kind == "sla")).one()
    acknowledge_ref(sqlite_db, f"S{story.id}", stories, actor="zhang", now=T0 + 62 * M)
    assert run_timers(sqlite_db, stories, now=T0 + 90 * M).escalated == 0


def test_business_hours_ticket_gives_nothing_at_night_or_at_the_weekend(sqlite_db: Database) -> None:
    stories = _stories()
    friday_1730 = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)  # L2: office hours, first response 2 working hours
    _ticket(sqlite_db, "Q000003", "L2", friday_1730)
    for hours in (1, 6.5, 14, 24, 38, 48, 62):  # Friday night ... Monday 07:30
        run = run_sla(sqlite_db, stories, SLA, CALENDARS, now=friday_1730 + timedelta(hours=hours))
        assert (run.warnings, run.breaches, run.rows - run.operator) == (0, 0, 0)
    monday_1000 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 1.5 of 2 working hours
    run = run_sla(sqlite_db, stories, SLA, CALENDARS, now=monday_1000)
    assert (run.warnings, run.breaches) == (1, 0)


def test_results_feed_the_monthly_report(any_db: Database) -> None:
    stories = _stories()
    late = _ticket(any_db, "Q000001", "L1", T0)
    _ticket(any_db, "Q000002", "L1", T0, ("responded", T0 + 10 * M))
    run_sla(any_db, stories, SLA, CALENDARS, now=T0 + 90 * M)
    with any_db.read() as session:
        rows = {(r.ticket_id, r.clock): r for r in session.scalars(select(SlaResult))}
    assert rows[(late, "first_response")].breached and rows[(late, "first_response")].phase == "running"
    with any_db.transaction() as session:  # answered late, then closed: the breach stays on record
        session.add(TicketEvent(ticket_id=late, kind="responded", actor="wangfang", at=T0 + 95 * M))
        session.add(TicketEvent(ticket_id=late, kind="status", new_value="closed", actor="wangfang", at=T0 + 96 * M))
        ticket = session.get(Ticket, late)
        assert ticket is not None
        ticket.status, ticket.updated_at = "closed", T0 + 96 * M
    run_sla(any_db, stories, SLA, CALENDARS, now=T0 + 100 * M)
    with any_db.read() as session:
        row = session.scalars(select(SlaResult).where(SlaResult.ticket_id == late, SlaResult.clock == "first_response")).one()
        assert (row.breached, row.phase) == (True, "stopped")
    with any_db.engine.connect() as conn:
        section = sla_section(conn, Month(2026, 12))
    first = next(r for r in section.rows if r["clock"] == "first_response")
    assert (first["priority"], first["tickets"], first["breached"]) == ("L1", 2, 1)
    assert section.available and attainment(section, "L1") is not None


def test_long_overdue_tickets_are_summed_up_for_the_operator_not_paged_one_by_one(sqlite_db: Database) -> None:
    stories = _stories()
    for n in range(3):
        _ticket(sqlite_db, f"Q00000{n + 1}", "L1", T0 - timedelta(days=3))  # overdue for days when yuqing starts
    _ticket(sqlite_db, "Q000009", "L1", T0)
    run = run_sla(sqlite_db, stories, SLA, CALENDARS, now=T0 + 61 * M)
    assert run.breaches == 1, "only the fresh breach is paged"
    with sqlite_db.read() as session:
        assert len(session.scalars(select(Story).where(Story.kind == "sla")).all()) == 1
        summary = next(a.payload for a in session.scalars(select(Alert).where(Alert.kind == "operator")) if a.payload["problem"] == "sla-stale")
    assert summary["title"].startswith("3 个工单早已超时") and len(summary["errors"]) == 6  # first response + resolution
    assert run_sla(sqlite_db, stories, SLA, CALENDARS, now=T0 + 62 * M).rows == 0
