"""Report sections whose data other parts of yuqing will provide: one function each.

Each returns a :class:`Section`; ``available=False`` renders as "暂无数据 / no data yet" (or "n/a"
for SLA). When the SLA engine, satisfaction follow-ups and survey campaigns store their results,
only the function here changes: the report, the CSV and ``yuqing stats --json`` already carry the
section and the targets that read it.

* SLA: reads ``sla_results`` (ticket_id, clock, breached), written from the SLA clocks by the
  minute job (``monitor.stories.sla``) and ``yuqing sla refresh --month`` (``monitor.sla.results``);
  "n/a" for a month without results.
* Satisfaction: ``satisfaction`` (ticket_id, score, answer 满意/一般/不满意, at), answers given in the
  month, per ticket type (``monitor.tickets.satisfaction``).
* Surveys: ``survey_answers`` (campaign, score, ticket_id, at), answers given in the month, per
  campaign (``monitor.feedback.surveys``).
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect

from monitor.reports.metrics import _params
from monitor.reports.period import Month
from monitor.reports.records import Section, rate

NO_DATA = "暂无数据 / no data yet"


def _has(conn: Connection, table: str) -> bool:
    return bool(inspect(conn).has_table(table))


def sla_section(conn: Connection, month: Month) -> Section:
    """SLA attainment per priority and clock from ``sla_results`` (n/a until connected)."""
    if not _has(conn, "sla_results"):
        return Section("sla", False, note="n/a — SLA 结果尚未接入 / SLA results not connected yet")
    rows = conn.execute(
        _params("""
        SELECT COALESCE(t.priority, '') AS priority, s.clock AS clock, COUNT(*) AS n,
               SUM(CASE WHEN s.breached THEN 1 ELSE 0 END) AS breached
        FROM sla_results s JOIN tickets t ON t.id = s.ticket_id
        WHERE t.created_at >= :start AND t.created_at < :end
        GROUP BY COALESCE(t.priority, ''), s.clock ORDER BY 1, 2
        """),
        {"start": month.start, "end": month.end},
    ).all()
    if not rows:
        return Section(
            "sla", False, note=f"n/a — 本月无 SLA 结果 / no SLA results (yuqing sla refresh --month {month.label})"
        )
    return Section(
        "sla",
        True,
        [
            {"priority": r.priority, "clock": r.clock, "tickets": int(r.n), "breached": int(r.breached or 0),
             "attainment": rate(int(r.n) - int(r.breached or 0), int(r.n))}
            for r in rows
        ],
    )


def satisfaction_section(conn: Connection, month: Month) -> Section:
    """Satisfaction answers (满意/一般/不满意) given in the month, per ticket type."""
    if not _has(conn, "satisfaction"):
        return Section("satisfaction", False, note=NO_DATA)
    rows = conn.execute(
        _params("""
        SELECT COALESCE(t.feedback_type, '') AS type, COUNT(*) AS n,
               SUM(CASE WHEN s.score = 'satisfied' THEN 1 ELSE 0 END) AS satisfied,
               SUM(CASE WHEN s.score = 'neutral' THEN 1 ELSE 0 END) AS neutral,
               SUM(CASE WHEN s.score = 'dissatisfied' THEN 1 ELSE 0 END) AS dissatisfied
        FROM satisfaction s JOIN tickets t ON t.id = s.ticket_id
        WHERE s.at >= :start AND s.at < :end
        GROUP BY COALESCE(t.feedback_type, '') ORDER BY 1
        """),
        {"start": month.start, "end": month.end},
    ).all()
    if not rows:
        return Section("satisfaction", False, note=NO_DATA)
    return Section(
        "satisfaction",
        True,
        [
            {"type": r.type, "answers": int(r.n), "satisfied": int(r.satisfied or 0), "neutral": int(r.neutral or 0),
             "dissatisfied": int(r.dissatisfied or 0), "rate": rate(int(r.satisfied or 0), int(r.n))}
            for r in rows
        ],
    )


def survey_section(conn: Connection, month: Month) -> Section:
    """Survey answers given in the month, per campaign: the scale and the tickets they became."""
    if not _has(conn, "survey_answers"):
        return Section("surveys", False, note=NO_DATA)
    rows = conn.execute(
        _params("""
        SELECT campaign, COUNT(*) AS n,
               SUM(CASE WHEN score = 'satisfied' THEN 1 ELSE 0 END) AS satisfied,
               SUM(CASE WHEN score = 'neutral' THEN 1 ELSE 0 END) AS neutral,
               SUM(CASE WHEN score = 'dissatisfied' THEN 1 ELSE 0 END) AS dissatisfied,
               SUM(CASE WHEN ticket_id IS NOT NULL THEN 1 ELSE 0 END) AS tickets
        FROM survey_answers WHERE at >= :start AND at < :end
        GROUP BY campaign ORDER BY campaign
        """),
        {"start": month.start, "end": month.end},
    ).all()
    if not rows:
        return Section("surveys", False, note=NO_DATA)
    return Section(
        "surveys",
        True,
        [
            {"campaign": r.campaign, "answers": int(r.n), "satisfied": int(r.satisfied or 0),
             "neutral": int(r.neutral or 0), "dissatisfied": int(r.dissatisfied or 0),
             "tickets": int(r.tickets or 0), "rate": rate(int(r.satisfied or 0), int(r.n))}
            for r in rows
        ],
    )


def attainment(section: Section, priority: str | None = None) -> float | None:
    """Share of clocks kept (optionally for one priority); ``None`` when the section has no data."""
    rows = [r for r in section.rows if priority is None or r["priority"] == priority]
    total = sum(int(r["tickets"]) for r in rows)
    return rate(total - sum(int(r["breached"]) for r in rows), total) if section.available else None


def satisfaction_rate(section: Section, *, complaints_only: bool) -> float | None:
    """Share of 满意 answers; ``None`` until the satisfaction section has data."""
    if not section.available:
        return None
    rows = [r for r in section.rows if not complaints_only or r.get("type") == "complaint"]
    total = sum(int(r["answers"]) for r in rows)
    return rate(sum(int(r["satisfied"]) for r in rows), total)
