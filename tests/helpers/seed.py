"""A fast, deterministic seeder: tickets with their event logs and analysed messages.

Core ``executemany`` in chunks (no ORM objects): 50,000 tickets over six months take seconds on
SQLite. The same ``seed`` feeds the report tests and ``bench/reports.py``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, column, insert, table

from monitor.storage.models import Source

CHANNELS = ("email", "weibo", "wechat", "hotline", "app", "forum")
TYPES = ("complaint", "suggestion", "praise", "inquiry")
CATEGORIES = ("product", "service", "process", "environment")
PRIORITIES = ("L1", "L2", "L3")
KEYWORDS = ("退款", "漏水", "延误", "态度差", "无法登录", "噪音", "发票", "安装", "价格", "质量问题", "客服", "物流")
CHUNK = 20_000


@dataclass(frozen=True)
class Seeded:
    tickets: int
    events: int
    messages: int


def _ticket_rows(rng: random.Random, index: int, created: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    tid = index + 1
    channel = CHANNELS[int(rng.random() ** 1.5 * len(CHANNELS))]
    priority = rng.choices(PRIORITIES, (1, 3, 6))[0]
    events: list[dict[str, Any]] = [_event(tid, "created", None, None, created)]
    speed = 1.0 + CHANNELS.index(channel) * 0.6  # some channels are slower than others
    at = created
    status = "received"
    if rng.random() < 0.97:
        at = created + timedelta(seconds=int(rng.expovariate(1 / (3600 * 4 * speed))) + 60)
        if rng.random() < 0.8:  # most tickets have an explicit first response; others only a status change
            events.append(_event(tid, "responded", None, None, at))
        events.append(_event(tid, "status", "received", "processing", at))
        status = "processing"
        if rng.random() < 0.93:
            at += timedelta(seconds=int(rng.expovariate(1 / (3600 * 20 * speed))) + 60)
            events.append(_event(tid, "status", "processing", "resolved", at))
            status = "resolved"
            roll = rng.random()
            if roll < 0.06:
                at += timedelta(hours=5)
                events.append(_event(tid, "status", "resolved", "reopened", at))
                events.append(_event(tid, "status", "reopened", "processing", at + timedelta(minutes=5)))
                status = "processing"
                if rng.random() < 0.5:
                    events.append(_event(tid, "status", "processing", "resolved", at + timedelta(hours=3)))
                    status = "resolved"
            elif roll < 0.7:
                events.append(_event(tid, "status", "resolved", "closed", at + timedelta(hours=48)))
                status = "closed"
    ticket = {
        "id": tid, "code": f"Q{tid:07d}", "status": status, "priority": priority, "source_id": 1,
        "channel": channel, "thread_key": f"t{tid}", "title": f"{rng.choice(KEYWORDS)}问题 {tid}",
        "feedback_type": rng.choices(TYPES, (5, 2, 1, 3))[0], "category": rng.choice(CATEGORIES),
        "created_at": created, "updated_at": at,
    }
    return ticket, events


def _event(tid: int, kind: str, old: str | None, new: str | None, at: datetime) -> dict[str, Any]:
    return {"ticket_id": tid, "kind": kind, "old_value": old, "new_value": new, "actor": "seed", "message_id": None, "note": None, "at": at}


def _message(rng: random.Random, ticket: dict[str, Any]) -> dict[str, Any]:
    words = sorted(set(rng.sample(KEYWORDS[: 4 + int(rng.random() * 8)], rng.randint(0, 2))))
    return {
        "source_id": 1, "external_id": f"m{ticket['id']}", "thread_key": ticket["thread_key"],
        "channel": ticket["channel"], "author_id": f"u{ticket['id'] % 997}", "author_name": "",
        "title": ticket["title"], "text": ticket["title"], "raw_ref": "", "created_at": ticket["created_at"],
        "ingested_at": ticket["created_at"], "priority": ticket["priority"], "ticket_id": ticket["id"],
        "analysis": {"keywords": words, "rules": []},
        "cluster_id": (ticket["id"] % 50) if rng.random() < 0.2 else None,
        "likes": 0, "reposts": 0, "replies": 0,
    }


def generate(count: int, *, end: datetime, months: int = 6, seed: int = 20261001) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]]:
    """Chunks of (tickets, events, messages) spread at random over ``months`` × 30.5 days before
    ``end``. Ticket ids follow the creation time, as in a running yuqing (a ticket gets the next
    id when its first message arrives): a month's tickets are one range of ids, not scattered
    over the whole table."""
    rng = random.Random(seed)
    span = months * 30.5 * 86400
    start = end - timedelta(seconds=span)
    when = random.Random(seed + 1)
    offsets = sorted(int(when.random() * span) for _ in range(count))
    for first in range(0, count, CHUNK):
        tickets: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        messages: list[dict[str, Any]] = []
        for index in range(first, min(first + CHUNK, count)):
            ticket, ticket_events = _ticket_rows(rng, index, start + timedelta(seconds=offsets[index]))
            tickets.append(ticket)
            events.extend(ticket_events)
            messages.append(_message(rng, ticket))
        yield tickets, events, messages


def _plain(name: str, rows: list[dict[str, Any]]) -> Any:
    """An untyped table for executemany: values are pre-converted once per row, not per type."""
    return table(name, *(column(key) for key in rows[0]))


def _converter(dialect: str) -> Any:
    """Datetimes and JSON as the dialect stores them (SQLite: the text SQLAlchemy's DateTime writes)."""

    def convert(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for row in rows:
            for key, value in row.items():
                if isinstance(value, datetime):
                    if dialect == "sqlite":
                        row[key] = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
                    elif dialect == "postgresql":
                        row[key] = value.isoformat()  # text: parsed by the server, cheap to send
                    else:
                        row[key] = value.astimezone(UTC).replace(tzinfo=None)
                elif isinstance(value, dict):
                    row[key] = json.dumps(value, ensure_ascii=False)
        return rows

    return convert


def _copy(conn: Any, name: str, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL ``COPY FROM STDIN`` (psycopg): the bench's million-ticket load in minutes, not an hour."""
    columns = list(rows[0])
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def seed(engine: Engine, count: int, *, end: datetime | None = None, seed: int = 20261001, copy: bool = False) -> Seeded:
    """Insert ``count`` tickets (ids from 1) into an empty, migrated database (``copy``: PostgreSQL COPY)."""
    end = end or datetime(2026, 11, 1, tzinfo=UTC) - timedelta(hours=8)
    convert = _converter(engine.dialect.name)
    totals = [0, 0, 0]
    with engine.begin() as conn:
        conn.execute(insert(Source.__table__), [{"id": 1, "name": "seed", "kind": "files", "created_at": end}])
    for tickets, events, messages in generate(count, end=end, seed=seed):
        with engine.begin() as conn:
            for name, rows in (("tickets", tickets), ("ticket_events", events), ("messages", messages)):
                if copy and engine.dialect.name == "postgresql":
                    _copy(conn, name, convert(rows))
                else:
                    conn.execute(insert(_plain(name, rows)), convert(rows))
        totals = [totals[0] + len(tickets), totals[1] + len(events), totals[2] + len(messages)]
    return Seeded(*totals)


SCORES = (("satisfied", "满意"), ("neutral", "一般"), ("dissatisfied", "不满意"))
CAMPAIGNS = ("2026Q3", "2026Q4")


@dataclass(frozen=True)
class SeededOutcomes:
    sla_results: int
    satisfaction: int
    survey_answers: int


def seed_outcomes(engine: Engine, *, seed: int = 20261101) -> SeededOutcomes:
    """What the SLA job, the satisfaction follow-ups and the survey campaigns store, for tickets
    already seeded: ``sla_results`` (first response and resolution per ticket, breaches more
    frequent for slow channels and L3), a 满意/一般/不满意 answer for about half of the resolved
    tickets a day after their last change, and survey answers of two campaigns (every seventh
    ticket's customer; dissatisfied ones carry the ticket they became)."""
    from sqlalchemy import select

    from monitor.storage.models import Ticket

    rng = random.Random(seed)
    convert = _converter(engine.dialect.name)
    query = select(Ticket.id, Ticket.status, Ticket.priority, Ticket.channel, Ticket.updated_at).order_by(Ticket.id)
    totals = [0, 0, 0]
    with engine.connect() as reader:
        rows = reader.execute(query).all()
    for first in range(0, len(rows), CHUNK):
        sla: list[dict[str, Any]] = []
        answers: list[dict[str, Any]] = []
        surveys: list[dict[str, Any]] = []
        for tid, status, priority, channel, updated in rows[first : first + CHUNK]:
            slow = CHANNELS.index(channel) * 0.03 + (0.05 if priority == "L3" else 0.0)
            for clock, target in (("first_response", 3600 * 2), ("resolution", 3600 * 48)):
                breached = rng.random() < 0.04 + slow
                sla.append({
                    "ticket_id": tid, "clock": clock, "profile": "policy", "target_s": target,
                    "elapsed_s": int(target * (1.2 if breached else rng.random())),
                    "phase": "stopped" if status in ("resolved", "closed") else "running",
                    "breached": breached, "updated_at": updated,
                })  # fmt: skip
            if status in ("resolved", "closed") and rng.random() < 0.5:
                score, answer = rng.choices(SCORES, (8, 2, 1))[0]
                answers.append({
                    "ticket_id": tid, "score": score, "answer": answer, "channel": "email", "followup_id": None,
                    "message_id": None, "raw": answer, "at": updated + timedelta(days=1),
                })  # fmt: skip
            if tid % 7 == 0:
                score, answer = rng.choices(SCORES, (6, 3, 2))[0]
                surveys.append({
                    "campaign": CAMPAIGNS[tid % 2], "followup_id": None, "address": f"c{tid}@example.com",
                    "score": score, "answer": answer, "text": "", "channel": "email",
                    "ticket_id": tid if score == "dissatisfied" else None, "message_id": None, "raw": answer,
                    "at": updated + timedelta(days=2),
                })  # fmt: skip
        with engine.begin() as conn:
            for name, batch in (("sla_results", sla), ("satisfaction", answers), ("survey_answers", surveys)):
                if batch and engine.dialect.name == "postgresql":
                    _copy(conn, name, convert(batch))
                elif batch:
                    conn.execute(insert(_plain(name, batch)), convert(batch))
        totals = [totals[0] + len(sla), totals[1] + len(answers), totals[2] + len(surveys)]
    return SeededOutcomes(*totals)
