"""Assemble a month's :class:`MonthStats` from the database (one connection, one fact table)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, text

from monitor.reports import metrics, sections, topics
from monitor.reports.dialect import Dialect
from monitor.reports.period import Month
from monitor.reports.records import (
    DIMENSIONS,
    Change,
    GroupStats,
    MonthStats,
    PreviousMonth,
    Section,
    TargetCheck,
)
from monitor.reports.settings import ReportsConfig


def dialect_of(engine: Engine, offset_hours: int) -> Dialect:
    name = engine.dialect.name
    return Dialect("mysql" if name in {"mysql", "mariadb"} else name, offset_hours)


def month_stats(engine: Engine, config: ReportsConfig, month: Month, dimensions: list[str] | None = None) -> MonthStats:
    dialect = dialect_of(engine, config.utc_offset_hours)
    names = list(DIMENSIONS) if dimensions is None else dimensions
    with engine.connect() as conn:
        if dialect.name == "postgresql":
            # many index seeks per query: JIT compilation (measured ~0.5 s a query) costs more than it saves
            conn.execute(text("SET LOCAL jit = off"))
        metrics.build_facts(conn, dialect, month)
        try:
            grouped = metrics.all_groups(conn, dialect, [None, *(DIMENSIONS[name] for name in names)])
            totals = grouped[None][0]
            by = {name: grouped[DIMENSIONS[name]] for name in names}
            daily = metrics.volume(conn, "day", current_only=True)
            weekly = metrics.volume(conn, "week", current_only=True)
        finally:
            metrics.drop_facts(conn, dialect)
        monthly = metrics.monthly_trend(conn, month)
        previous = PreviousMonth(*metrics.previous_month(conn, month))
        keywords = topics.top_keywords(conn, dialect, month, config.top_keywords)
        hot = topics.hot_topics(conn, month)
        unresolved_count, unresolved = topics.unresolved_major(conn, month)
        sla = sections.sla_section(conn, month)
        satisfaction = sections.satisfaction_section(conn, month)
        surveys = sections.survey_section(conn, month)
        conn.rollback()
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
