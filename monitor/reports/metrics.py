"""A month of metrics, aggregated in the database from the tickets table and the ticket event log.

Per ticket created in the month one fact row is built in a temporary table from index seeks into ``ticket_events``:

* first response = the first ``responded`` event, or — for tickets from before that event existed —
  the first ``status`` event (a ticket starts as ``received``, so its first status change is the
  one away from ``received``); minus the ticket's ``created_at``;
* resolution time = the first ``status`` event to ``resolved`` minus ``created_at``;
* reopened = a ``status`` event to ``reopened`` (the policy's resolved → reopened, 二次处理).

Every figure after that is a grouped query over the fact table (percentiles: PostgreSQL's
``percentile_cont``; SQLite and MariaDB: the two ordered rows around the rank, interpolated the
same way). Nothing loops over tickets in Python.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, text

from monitor.reports.dialect import Dialect
from monitor.reports.period import Month
from monitor.reports.records import DIMENSIONS, Bucket, Durations, GroupStats, hours, rate
from monitor.storage.models import UTCDateTime

FACTS = "report_facts"
CLOSED_STATES = "('resolved', 'closed')"


def _params(sql: str) -> Any:
    clause = text(sql)
    for name in ("start", "end", "prev"):
        if f":{name}" in sql:
            clause = clause.bindparams(bindparam(name, type_=UTCDateTime))
    return clause


def build_facts(conn: Connection, dialect: Dialect, month: Month) -> None:
    """(Re)create the fact table for the tickets created in ``month``.

    Each event time is one correlated ``MIN``/``EXISTS`` answered from the covering index
    ``ix_ticket_events_kind (ticket_id, kind, new_value, at)``: a few index seeks per ticket, no
    table reads and no grouping of the event log.
    """

    def first(kind: str, new_value: str | None = None) -> str:
        value = f" AND e.new_value = '{new_value}'" if new_value else ""
        return f"(SELECT MIN(e.at) FROM ticket_events e WHERE e.ticket_id = t.id AND e.kind = '{kind}'{value})"

    temporary = "TEMP" if dialect.name == "sqlite" else "TEMPORARY"
    drop_facts(conn, dialect)
    sql = f"""
        CREATE {temporary} TABLE {FACTS} AS
        SELECT t.id AS id,
               1 AS cur,
               {dialect.day("t.created_at")} AS day,
               {dialect.week("t.created_at")} AS week,
               COALESCE(t.channel, '') AS channel,
               COALESCE(t.feedback_type, '') AS feedback_type,
               COALESCE(t.category, '') AS category,
               COALESCE(t.priority, '') AS priority,
               t.status AS status,
               {dialect.seconds(f"COALESCE({first('responded')}, {first('status')})", "t.created_at")} AS resp_s,
               {dialect.seconds(first("status", "resolved"), "t.created_at")} AS res_s,
               CASE WHEN EXISTS (SELECT 1 FROM ticket_events e WHERE e.ticket_id = t.id AND e.kind = 'status'
                                 AND e.new_value = 'reopened') THEN 1 ELSE 0 END AS reopened
        FROM tickets t
        WHERE t.created_at >= :start AND t.created_at < :end
    """
    conn.execute(_params(sql), {"start": month.start, "end": month.end})


def drop_facts(conn: Connection, dialect: Dialect) -> None:
    temporary = "TEMPORARY " if dialect.name == "mysql" else ""
    conn.execute(text(f"DROP {temporary}TABLE IF EXISTS {FACTS}"))


def groups(conn: Connection, dialect: Dialect, key: str | None, *, current: bool = True) -> list[GroupStats]:
    """Counts, rates and durations per value of fact column ``key`` (``None``: one overall group)."""
    key_sql = key or "''"
    where = f"cur = {1 if current else 0}"
    rows = conn.execute(
        text(f"""
        SELECT {key_sql} AS k, COUNT(*) AS n,
               SUM(CASE WHEN status IN {CLOSED_STATES} THEN 1 ELSE 0 END) AS resolved,
               SUM(CASE WHEN res_s IS NOT NULL THEN 1 ELSE 0 END) AS ever_resolved,
               SUM(reopened) AS reopened,
               SUM(CASE WHEN status = 'closed' THEN 1 ELSE 0 END) AS closed,
               COUNT(resp_s) AS responded, AVG(resp_s) AS resp_mean,
               COUNT(res_s) AS res_count, AVG(res_s) AS res_mean
        FROM {FACTS} WHERE {where} {f"GROUP BY {key} ORDER BY COUNT(*) DESC, {key}" if key else ""}
        """)
    ).all()
    resp = percentiles(conn, dialect, "resp_s", key, where, {str(r.k): int(r.responded) for r in rows})
    res = percentiles(conn, dialect, "res_s", key, where, {str(r.k): int(r.res_count) for r in rows})
    found = [
        GroupStats(
            key=str(r.k),
            tickets=int(r.n),
            resolved=int(r.resolved or 0),
            resolution_rate=rate(int(r.resolved or 0), int(r.n)),
            reopened=int(r.reopened or 0),
            reopen_rate=rate(int(r.reopened or 0), int(r.ever_resolved or 0)),
            closed=int(r.closed or 0),
            closed_loop_rate=rate(int(r.closed or 0), int(r.resolved or 0)),
            first_response=Durations(int(r.responded), hours(r.resp_mean), *resp.get(str(r.k), (None, None))),
            resolution_time=Durations(int(r.res_count), hours(r.res_mean), *res.get(str(r.k), (None, None))),
        )
        for r in rows
    ]
    return found if found or key else [empty_group()]


def empty_group() -> GroupStats:
    nothing = Durations(0, None, None, None)
    return GroupStats("", 0, 0, None, 0, None, 0, None, nothing, nothing)


def percentiles(
    conn: Connection, dialect: Dialect, column: str, key: str | None, where: str, sizes: dict[str, int]
) -> dict[str, tuple[float | None, float | None]]:
    """p50 and p90 (hours, linear interpolation as ``percentile_cont``) of ``column`` per key.

    ``sizes``: the non-null count per key (from the grouped query), so the ranked query needs no
    ``COUNT(*) OVER`` (which buffers every partition) and fetches only the rows at the ranks."""
    key_sql = key or "''"
    if dialect.name == "postgresql":
        rows = conn.execute(
            text(f"""
            SELECT {key_sql} AS k,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY {column}) AS p50,
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY {column}) AS p90
            FROM {FACTS} WHERE {where} AND {column} IS NOT NULL {f"GROUP BY {key}" if key else ""}
            """)
        ).all()
        return {str(r.k): (hours(r.p50), hours(r.p90)) for r in rows}
    ranks = sorted({low + step for n in sizes.values() if n for f in (0.5, 0.9) for low in [int(f * (n - 1))] for step in (0, 1)})
    if not ranks:
        return {}
    ranked = conn.execute(
        text(f"""
        SELECT k, rn, v FROM (
            SELECT {key_sql} AS k, {column} AS v,
                   ROW_NUMBER() OVER ({f"PARTITION BY {key}" if key else ""} ORDER BY {column}) - 1 AS rn
            FROM {FACTS} WHERE {where} AND {column} IS NOT NULL
        ) ranked
        WHERE rn IN ({", ".join(str(r) for r in ranks)})
        """)
    ).all()
    values: dict[str, dict[int, float]] = {}
    for r in ranked:
        values.setdefault(str(r.k), {})[int(r.rn)] = float(r.v)
    return {
        k: (hours(_interpolate(values[k], sizes[k], 0.5)), hours(_interpolate(values[k], sizes[k], 0.9)))
        for k in values
        if sizes.get(k)
    }


def _interpolate(ranked: dict[int, float], n: int, fraction: float) -> float:
    position = fraction * (n - 1)
    low = int(position)
    high = min(low + 1, n - 1)
    return ranked[low] + (position - low) * (ranked[high] - ranked[low])


def by_dimensions(conn: Connection, dialect: Dialect, names: list[str]) -> dict[str, list[GroupStats]]:
    return {name: groups(conn, dialect, DIMENSIONS[name]) for name in names}


def volume(conn: Connection, column: str, *, current_only: bool) -> list[Bucket]:
    """Tickets per ``day`` or ``week`` bucket, each with its change against the bucket before."""
    where = "WHERE cur = 1" if current_only else ""
    rows = conn.execute(text(f"SELECT {column} AS b, COUNT(*) AS n FROM {FACTS} {where} GROUP BY {column} ORDER BY {column}")).all()
    return with_change([(str(r.b), int(r.n)) for r in rows])


def with_change(pairs: list[tuple[str, int]]) -> list[Bucket]:
    buckets: list[Bucket] = []
    for index, (label, count) in enumerate(pairs):
        before = pairs[index - 1][1] if index else 0
        buckets.append(Bucket(label, count, round((count - before) / before, 4) if before else None))
    return buckets


def monthly_trend(conn: Connection, month: Month, months: int = 6) -> list[Bucket]:
    """Tickets per local month for the ``months`` months ending with ``month``: one index range
    count per month (``ix_tickets_created``), not a bucket expression over every row."""
    pairs = []
    for shift in range(1 - months, 1):
        bucket = month.shift(shift)
        count = conn.execute(
            _params("SELECT COUNT(*) FROM tickets WHERE created_at >= :start AND created_at < :end"),
            {"start": bucket.start, "end": bucket.end},
        ).scalar_one()
        pairs.append((bucket.label, int(count)))
    return with_change(pairs)


def previous_month(conn: Connection, month: Month) -> tuple[int, int]:
    """Tickets created in the month before ``month`` and how many of them are resolved/closed now
    (month-on-month change; read from the covering ``ix_tickets_created`` index alone)."""
    before = month.shift(-1)
    row = conn.execute(
        _params(f"""
        SELECT COUNT(*) AS n, SUM(CASE WHEN status IN {CLOSED_STATES} THEN 1 ELSE 0 END) AS resolved
        FROM tickets WHERE created_at >= :start AND created_at < :end
        """),
        {"start": before.start, "end": before.end},
    ).one()
    return int(row.n), int(row.resolved or 0)
