"""Cost of one SLA due-notice run (``collect_due_notices``) over many open tickets (issue 14).

Seeds N open tickets (mixed L1/L2/L3, created over the last 30 days, ~5 events each: created,
messages, a response on half, a waiting/processing pause on a quarter) in SQLite, then times:

- baseline: reading every open ticket and its events (the same queries, no clocks);
- one notice run (replays every ticket's clocks against the calendars and records notices);
- a second run at the same time (nothing new: the dedupe path).

Run: .venv/bin/python bench/sla_due.py [--tickets 10000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.sla.notices import OPEN, collect_due_notices
from monitor.sla.settings import CalendarsConfig, SlaConfig
from monitor.sla.store import event_logs, sync_calendar
from monitor.storage.db import Database
from monitor.storage.models import Source, Ticket, TicketEvent

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


def seed(db: Database, count: int) -> None:
    rng = random.Random(14)
    with db.transaction() as session:
        source = Source(name="bench", kind="files")
        session.add(source)
        session.flush()
        sync_calendar(session)
        tickets = [
            {
                "code": f"Q{i:06d}", "source_id": source.id, "channel": "email", "thread_key": f"t{i}", "title": "x",
                "status": "received", "priority": rng.choice(["L1", "L2", "L3"]),
                "created_at": NOW - timedelta(minutes=rng.randrange(30 * 24 * 60)), "updated_at": NOW, "tags": [],
                "complex": False,
            }
            for i in range(1, count + 1)
        ]  # fmt: skip
        session.execute(insert(Ticket), tickets)
        rows = session.execute(select(Ticket.id, Ticket.created_at)).all()
        events: list[dict[str, object]] = []
        for ticket_id, created in rows:
            at = created
            events.append(_event(ticket_id, "created", at, "received"))
            responded, paused = rng.random() < 0.5, rng.random() < 0.25
            for kind, new in [("message", None), ("responded", None), ("message", None), ("status", "waiting"), ("status", "processing")]:
                if (kind == "responded" and not responded) or (kind == "status" and not paused):
                    continue
                at = min(NOW, at + timedelta(minutes=rng.randrange(1, 600)))
                events.append(_event(ticket_id, kind, at, new))
        session.execute(insert(TicketEvent), events)


def _event(ticket_id: int, kind: str, at: datetime, new: str | None) -> dict[str, object]:
    return {"ticket_id": ticket_id, "kind": kind, "at": at, "new_value": new, "actor": "bench", "old_value": None,
            "message_id": None, "note": None}  # fmt: skip


def timed(label: str, action: object) -> tuple[str, float, object]:
    start = time.perf_counter()
    result = action()  # type: ignore[operator]
    return label, time.perf_counter() - start, result


def baseline(db: Database) -> int:
    with db.read() as session:
        tickets = list(session.scalars(select(Ticket).where(Ticket.status.in_(OPEN))))
        return sum(len(v) for v in event_logs(session, [t.id for t in tickets]).values())


def run(db: Database) -> int:
    with db.transaction() as session:
        return len(collect_due_notices(session, NOW, SlaConfig(), CalendarsConfig()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{folder}/bench.db")
        db.upgrade()
        seed(db, args.tickets)
        results = [timed("baseline: read tickets + events", lambda: baseline(db))]
        results.append(timed("due notices, first run", lambda: run(db)))
        results.append(timed("due notices, second run", lambda: run(db)))
        db.dispose()
    base = results[0][1]
    print(f"{args.tickets:,} open tickets, SQLite")
    print(f"{'step':<34} {'seconds':>8} {'x baseline':>10} {'result':>10}")
    for label, seconds, result in results:
        print(f"{label:<34} {seconds:>8.2f} {seconds / base:>10.1f} {result!s:>10}")


if __name__ == "__main__":
    main()
