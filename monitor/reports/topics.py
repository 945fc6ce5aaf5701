"""Top keywords, hot topics (near-duplicate clusters), recurring problems and open L1/L2 tickets.

Keywords come from the stored analyses (``messages.analysis -> keywords``) of the month's
messages only, unnested in the database and cut to the top N: bounded by the month.
"""

from __future__ import annotations

from sqlalchemy import Connection

from monitor.reports.dialect import Dialect
from monitor.reports.metrics import _params
from monitor.reports.period import Month
from monitor.reports.records import Ranked, Unresolved

IN_MONTH = "m.created_at >= :start AND m.created_at < :end"


def top_keywords(conn: Connection, dialect: Dialect, month: Month, limit: int) -> list[Ranked]:
    rows = conn.execute(
        _params(f"""
        SELECT j.value AS kw, COUNT(*) AS n, COUNT(DISTINCT {dialect.week("m.created_at")}) AS weeks
        FROM {dialect.keywords_from("m")}
        WHERE {IN_MONTH}
        GROUP BY j.value ORDER BY COUNT(*) DESC, j.value LIMIT {int(limit)}
        """),
        {"start": month.start, "end": month.end},
    ).all()
    return [Ranked(str(r.kw), int(r.n), int(r.weeks)) for r in rows]


def recurring(keywords: list[Ranked]) -> list[Ranked]:
    """Problems that came back: top keywords seen in two or more weeks, most weeks first."""
    return sorted((k for k in keywords if k.weeks >= 2), key=lambda k: (-k.weeks, -k.count, k.key))


def hot_topics(conn: Connection, month: Month, limit: int = 10) -> list[Ranked]:
    """The month's largest near-duplicate clusters (two or more messages) with one title each."""
    rows = conn.execute(
        _params(f"""
        SELECT m.cluster_id AS c, COUNT(*) AS n, MAX(m.title) AS title
        FROM messages m WHERE {IN_MONTH} AND m.cluster_id IS NOT NULL
        GROUP BY m.cluster_id HAVING COUNT(*) >= 2 ORDER BY COUNT(*) DESC, m.cluster_id LIMIT {int(limit)}
        """),
        {"start": month.start, "end": month.end},
    ).all()
    return [Ranked(f"#{r.c}", int(r.n), 0, str(r.title or "")[:80]) for r in rows]


def unresolved_major(conn: Connection, month: Month, limit: int = 50) -> tuple[int, list[Unresolved]]:
    """L1/L2 tickets of the month not resolved or closed now: how many, and the oldest ``limit``."""
    where = (
        "t.created_at >= :start AND t.created_at < :end AND t.priority IN ('L1', 'L2')"
        " AND t.status NOT IN ('resolved', 'closed')"
    )
    bounds = {"start": month.start, "end": month.end}
    count = conn.execute(_params(f"SELECT COUNT(*) FROM tickets t WHERE {where}"), bounds).scalar_one()
    rows = conn.execute(
        _params(f"""
        SELECT t.code, t.priority, t.channel, t.status, t.created_at, t.title FROM tickets t
        WHERE {where} ORDER BY t.priority, t.created_at, t.id LIMIT {int(limit)}
        """),
        bounds,
    ).all()
    return int(count), [
        Unresolved(str(r.code or ""), str(r.priority), str(r.channel), str(r.status), str(r.created_at)[:16], str(r.title)[:60])
        for r in rows
    ]
