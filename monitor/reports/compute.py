"""Assemble a month's :class:`MonthStats` from the database (one connection, one fact table)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, text

from monitor.reports import metrics, sections, topics
from monitor.reports.dialect import Dialect
from monitor.reports.period import Month
from monitor.reports.ranks import Ranks
from monitor.reports.records import (
    DIMENSIONS,
    Change,
    GroupStats,
    MonthStats,
    PreviousMonth,
    Ranked,
    Section,
    TargetCheck,
)
from monitor.reports.settings import ReportsConfig
from monitor.storage.db import READ_ONLY


def dialect_of(engine: Engine, offset_hours: int) -> Dialect:
    name = engine.dialect.name
    return Dialect("mysql" if name in {"mysql", "mariadb"} else name, offset_hours)


def month_stats(engine: Engine, config: ReportsConfig, month: Month, dimensions: list[str] | None = None) -> MonthStats:
    """A month's metrics. The independent sections (keywords; hot topics, trends, open tickets,
    SLA, satisfaction, surveys) run on their own connections in worker threads while the fact
    table is built and grouped (SQLite/MariaDB: in two halves of the month at once, rolled up
    exactly); the drivers release the GIL while a query runs, so on two cores the report takes
    about its longest part, not the sum. Every query is read-only and each statement sees
    committed data, as on one connection."""
    dialect = dialect_of(engine, config.utc_offset_hours)
    names = list(DIMENSIONS) if dimensions is None else dimensions
    keys = [None, *(DIMENSIONS[name] for name in names)]
    with ThreadPoolExecutor(max_workers=2 + PARTS, thread_name_prefix="report") as pool:
        run: Callable[[Callable[[Connection], Any]], Future[Any]]
        shared = _shared_memory_database(engine)  # one in-memory database: one connection, in turn
        run = _inline(engine, dialect) if shared else partial(_submit, pool, engine, dialect)
        keywords_later = run(lambda conn: topics.top_keywords(conn, dialect, month, config.top_keywords))
        sections_later = run(lambda conn: _sections(conn, month))
        if dialect.name == "postgresql" or shared:
            grouped, daily_pairs, weekly_pairs = run(lambda conn: _whole(conn, dialect, month, keys)).result()
        else:  # halves of the month on two connections at once, rolled up exactly
            halves = [run(partial(_part, dialect=dialect, month=month, span=span)) for span in _spans(month, PARTS)]
            parts = [h.result() for h in halves]
            grouped = metrics.rollup(
                [row for p in parts for row in p[0]], keys, Ranks([row for p in parts for row in p[1]])
            )
            daily_pairs = metrics.merge_pairs([p[2] for p in parts])
            weekly_pairs = metrics.merge_pairs([p[3] for p in parts])
        totals = grouped[None][0]
        by = {name: grouped[DIMENSIONS[name]] for name in names}
        daily, weekly = metrics.with_change(daily_pairs), metrics.with_change(weekly_pairs)
        keywords: list[Ranked] = keywords_later.result()
        monthly, previous, hot, (unresolved_count, unresolved), sla, satisfaction, surveys = sections_later.result()
    first_monday = (month.start + timedelta(hours=config.utc_offset_hours)).date().isoformat()
    last_monday = (month.end + timedelta(hours=config.utc_offset_hours) - timedelta(days=7)).date().isoformat()
    full_weeks = [b for b in weekly if first_monday <= b.bucket <= last_monday]  # whole weeks inside the month
    return MonthStats(
        period=month.label,
        start=month.start.isoformat(),
        end=month.end.isoformat(),
        utc_offset_hours=config.utc_offset_hours,
        totals=totals,
        previous=previous,
        month_on_month=change(totals, previous),
        week_on_week=full_weeks[-1].change if len(full_weeks) >= 2 else None,
        by=by,
        daily=daily,
        weekly=weekly,
        monthly=monthly,
        keywords=keywords,
        hot_topics=hot,
        recurring=topics.recurring(keywords),
        unresolved_count=unresolved_count,
        unresolved=unresolved,
        sla=sla,
        satisfaction=satisfaction,
        surveys=surveys,
        targets=target_checks(config, totals, sla, satisfaction),
    )


T = TypeVar("T")


def _session_settings(conn: Connection, dialect: Dialect) -> None:
    if dialect.name == "postgresql":
        # many index seeks per query: JIT compilation (measured ~0.5 s a query) costs more than it saves
        conn.execute(text("SET LOCAL jit = off"))


def _on_own_connection(engine: Engine, dialect: Dialect, work: Callable[[Connection], T]) -> T:
    # read-only: on SQLite a deferred BEGIN, a WAL snapshot that neither waits for nor blocks a
    # writer (an ordinary yuqing connection begins IMMEDIATE: the report's parallel parts queued
    # behind each other on the write lock, and the daemon's writers queued behind the report).
    # Measured and left out: temp_store=MEMORY, mmap_size and a 64 MiB cache_size cost 0.2-0.3 CPU s
    # more on the million-ticket bench than they saved (bench/README.md).
    with engine.execution_options(**{READ_ONLY: True}).connect() as conn:
        _session_settings(conn, dialect)
        try:
            return work(conn)
        finally:
            conn.rollback()


def _submit(pool: ThreadPoolExecutor, engine: Engine, dialect: Dialect, work: Callable[[Connection], T]) -> Future[T]:
    return pool.submit(_on_own_connection, engine, dialect, work)


def _inline(engine: Engine, dialect: Dialect) -> Callable[[Callable[[Connection], Any]], Future[Any]]:
    def run(work: Callable[[Connection], Any]) -> Future[Any]:
        done: Future[Any] = Future()
        done.set_result(_on_own_connection(engine, dialect, work))
        return done

    return run


def _shared_memory_database(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")


PARTS = 2
"""SQLite and MariaDB build the fact table in this many parts of the month at once (PostgreSQL
ranks with ``percentile_cont`` over the whole month on one connection)."""


def _spans(month: Month, parts: int) -> list[tuple[datetime, datetime]]:
    step = (month.end - month.start) / parts
    edges = [month.start + step * i for i in range(parts)] + [month.end]
    return list(itertools.pairwise(edges))


Pairs = list[tuple[str, int]]


def _whole(conn: Connection, dialect: Dialect, month: Month, keys: list[str | None]) -> tuple[Any, Pairs, Pairs]:
    metrics.build_facts(conn, dialect, month)
    try:
        grouped = metrics.all_groups(conn, dialect, keys)
        return grouped, metrics.volume_pairs(conn, "day"), metrics.volume_pairs(conn, "week")
    finally:
        metrics.drop_facts(conn, dialect)


def _part(
    conn: Connection, *, dialect: Dialect, month: Month, span: tuple[datetime, datetime]
) -> tuple[list[Any], list[tuple[Any, ...]], Pairs, Pairs]:
    """One part of the month: its finest groups, its fact rows, its day and week counts."""
    metrics.build_facts(conn, dialect, month, span)
    try:
        return (
            metrics.fine_groups(conn),
            metrics.fact_rows(conn),
            metrics.volume_pairs(conn, "day"),
            metrics.volume_pairs(conn, "week"),
        )
    finally:
        metrics.drop_facts(conn, dialect)


def _sections(conn: Connection, month: Month) -> tuple[Any, ...]:
    return (
        metrics.monthly_trend(conn, month),
        PreviousMonth(*metrics.previous_month(conn, month)),
        topics.hot_topics(conn, month),
        topics.unresolved_major(conn, month),
        sections.sla_section(conn, month),
        sections.satisfaction_section(conn, month),
        sections.survey_section(conn, month),
    )


def change(now: GroupStats, before: PreviousMonth) -> Change:
    return Change(
        tickets=round((now.tickets - before.tickets) / before.tickets, 4) if before.tickets else None,
        resolution_rate=None
        if now.resolution_rate is None or before.resolution_rate is None
        else round(now.resolution_rate - before.resolution_rate, 4),
    )


def target_checks(
    config: ReportsConfig, totals: GroupStats, sla: Section, satisfaction: Section
) -> list[TargetCheck]:
    targets = config.targets
    rows = (
        ("first_response_hours", "平均首次响应（小时） / mean first response (h)", targets.first_response_hours, "<=",
         totals.first_response.mean_hours),
        ("resolution_rate", "解决率 / resolution rate", targets.resolution_rate, ">=", totals.resolution_rate),
        ("complaint_satisfaction", "投诉满意度 / complaint satisfaction", targets.complaint_satisfaction, ">=",
         sections.satisfaction_rate(satisfaction, complaints_only=True)),
        ("overall_satisfaction", "总体满意度 / overall satisfaction", targets.overall_satisfaction, ">=",
         sections.satisfaction_rate(satisfaction, complaints_only=False)),
        ("major_on_time", "重大(L1)投诉按时处理率 / L1 handled on time", targets.major_on_time, ">=",
         sections.attainment(sla, "L1")),
        ("closed_loop", "闭环率 / closed loop", targets.closed_loop, ">=", totals.closed_loop_rate),
    )
    return [
        TargetCheck(name, label, goal, op, value, None if value is None else (value <= goal if op == "<=" else value >= goal))
        for name, label, goal, op, value in rows
    ]
