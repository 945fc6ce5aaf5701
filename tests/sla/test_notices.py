"""Due notices: each warning and breach is returned once, across re-runs and a second instance,
on SQLite, PostgreSQL and MariaDB; stopped or paused clocks and nights give none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from monitor.sla.notices import CalendarNotice, Notice, SlaNotice, due_notices
from monitor.sla.settings import CalendarsConfig, SlaConfig
from monitor.storage.db import Database
from monitor.storage.models import SlaNotice as SlaNoticeRow
from monitor.storage.models import Source, Ticket, TicketEvent

SLA, CALENDARS = SlaConfig(), CalendarsConfig()
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
M = timedelta(minutes=1)


def _ticket(db: Database, code: str, priority: str, created: datetime, *events: tuple[str, datetime, str | None]) -> None:
    with db.transaction() as session:
        source = session.scalar(select(Source).where(Source.name == "src"))
        if source is None:
            source = Source(name="src", kind="files")
            session.add(source)
            session.flush()
        ticket = Ticket(
            code=code, source_id=source.id, channel="email", thread_key=code, title=code, status="received",
            priority=priority, created_at=created, updated_at=created,
        )  # fmt: skip
        session.add(ticket)
        session.flush()
        session.add(TicketEvent(ticket_id=ticket.id, kind="created", new_value="received", at=created))
        for kind, at, new in events:
            session.add(TicketEvent(ticket_id=ticket.id, kind=kind, new_value=new, actor="wangfang", at=at))
            if kind == "status" and new:
                ticket.status = new


def _sla(notices: list[Notice]) -> list[tuple[str, str, str]]:
    return sorted((n.ticket_code, n.clock, n.kind) for n in notices if isinstance(n, SlaNotice))


def test_each_warning_and_breach_is_emitted_exactly_once(any_db: Database) -> None:
    _ticket(any_db, "Q000001", "L1", T0)  # 24x7: first response 1 h
    _ticket(any_db, "Q000002", "L1", T0, ("responded", T0 + 10 * M, None))  # answered: no first-response notice
    _ticket(any_db, "Q000003", "L1", T0, ("status", T0 + 5 * M, "waiting"))  # paused: nothing
    assert _sla(due_notices(any_db, T0 + 44 * M, SLA, CALENDARS)) == []
    assert _sla(due_notices(any_db, T0 + 45 * M, SLA, CALENDARS)) == [("Q000001", "first_response", "sla-warning")]
    assert _sla(due_notices(any_db, T0 + 50 * M, SLA, CALENDARS)) == []
    assert _sla(due_notices(any_db, T0 + 60 * M, SLA, CALENDARS)) == [("Q000001", "first_response", "sla-breach")]
    for _ in range(3):
        assert _sla(due_notices(any_db, T0 + 61 * M, SLA, CALENDARS)) == []
    other_instance = Database(any_db.url)  # a second daemon sharing the database
    try:
        assert _sla(due_notices(other_instance, T0 + 62 * M, SLA, CALENDARS)) == []
    finally:
        other_instance.dispose()
    with any_db.read() as session:
        kinds = sorted(session.scalars(select(SlaNoticeRow.kind).where(SlaNoticeRow.ticket_id.is_not(None))))
    assert kinds == ["sla-breach", "sla-warning"]


def test_a_late_run_sends_only_the_breach_and_never_the_warning_after_it(any_db: Database) -> None:
    _ticket(any_db, "Q000001", "L1", T0)
    assert _sla(due_notices(any_db, T0 + 90 * M, SLA, CALENDARS)) == [("Q000001", "first_response", "sla-breach")]
    assert _sla(due_notices(any_db, T0 + 91 * M, SLA, CALENDARS)) == []


def test_business_hours_tickets_give_nothing_at_night_or_at_the_weekend(any_db: Database) -> None:
    friday_1730 = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)  # 17:30 in Shanghai, L2: 2 working hours
    _ticket(any_db, "Q000001", "L2", friday_1730)
    for hours in (6.5, 24, 48, 62):  # Saturday 00:00, Saturday/Sunday evening, Monday 07:30
        assert _sla(due_notices(any_db, friday_1730 + timedelta(hours=hours), SLA, CALENDARS)) == []
    monday_1000 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    assert _sla(due_notices(any_db, monday_1000, SLA, CALENDARS)) == [("Q000001", "first_response", "sla-warning")]


def test_calendar_warning_once_a_day_from_november_and_refusal_for_an_unknown_year(sqlite_db: Database) -> None:
    _ticket(sqlite_db, "Q000001", "L2", datetime(2026, 12, 30, 9, 0, tzinfo=UTC))  # 17:00: 2 wd reach into 2027
    now = datetime(2026, 12, 30, 9, 30, tzinfo=UTC)
    first = due_notices(sqlite_db, now, SLA, CALENDARS)
    calendar = sorted((n.kind, n.year) for n in first if isinstance(n, CalendarNotice))
    assert calendar == [("calendar-refused", 2027), ("calendar-warning", 2027)]
    assert _sla(first) == []
    assert due_notices(sqlite_db, now + M, SLA, CALENDARS) == []
    next_day = [n.kind for n in due_notices(sqlite_db, now + timedelta(days=1), SLA, CALENDARS)]
    assert sorted(next_day) == ["calendar-refused", "calendar-warning"]
    october = [n for n in due_notices(sqlite_db, datetime(2026, 10, 12, 1, tzinfo=UTC), SLA, CALENDARS)]
    assert not [n for n in october if n.kind == "calendar-warning"]
    with sqlite_db.read() as session:
        assert session.scalar(select(func.count()).select_from(SlaNoticeRow).where(SlaNoticeRow.kind == "calendar-warning")) == 2


def test_two_instances_racing_on_the_same_key_record_it_once(any_db: Database) -> None:
    """Instance A holds an uncommitted notice; B's bulk insert waits on the key, then skips only it."""
    import threading

    from monitor.sla.notices import _record_new

    def row(key: str) -> dict[str, Any]:
        return {"key": key, "kind": "sla-breach", "ticket_id": None, "clock": "c", "due_at": None, "emitted_at": T0}

    other = Database(any_db.url)
    got: dict[str, set[str]] = {}
    try:
        with any_db.transaction() as session_a:
            got["a"] = _record_new(session_a, [row("k1")])

            def instance_b() -> None:
                with other.transaction() as session_b:
                    got["b"] = _record_new(session_b, [row("k1"), row("k2")])

            racer = threading.Thread(target=instance_b)
            racer.start()
            racer.join(timeout=1.0)  # B is blocked on A (the k1 key, or SQLite's write lock)
            assert racer.is_alive()
        racer.join(timeout=60)
    finally:
        other.dispose()
    assert (got["a"], got["b"]) == ({"k1"}, {"k2"})
    with any_db.read() as session:
        assert sorted(session.scalars(select(SlaNoticeRow.key))) == ["k1", "k2"]
