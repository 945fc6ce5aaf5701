"""Write the monthly report: self-contained HTML (inline SVG charts), CSV tables, Markdown, PDF."""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from monitor.reports import charts
from monitor.reports.records import GroupStats, MonthStats

RATES = {"resolution_rate", "complaint_satisfaction", "overall_satisfaction", "major_on_time", "closed_loop"}


def pct(value: float | None) -> str:
    """A rate as shown everywhere in the report: ``86.71%`` (``n/a`` without data)."""
    return "n/a" if value is None else f"{value * 100:.2f}%"


def fmt(value: float | None, name: str = "") -> str:
    if value is None:
        return "n/a"
    return pct(value) if name in RATES else f"{value:g}"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("monitor.reports", "tpl"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
    )
    env.globals.update(pct=pct, fmt=fmt)
    return env


def render_html(stats: MonthStats) -> str:
    by_category = stats.by.get("category", [])
    channels = stats.by.get("channel", [])
    slowest = sorted(  # (index in by.channel, group): the HTML names each number's JSON path
        ((i, g) for i, g in enumerate(channels) if g.first_response.mean_hours is not None),
        key=lambda pair: -(pair[1].first_response.mean_hours or 0.0),
    )
    svgs = {
        "daily": charts.line_chart("每日工单量 / tickets per day", [b.bucket[5:] for b in stats.daily], [b.tickets for b in stats.daily], "工单 tickets"),
        "monthly": charts.line_chart("近六个月 / last six months", [b.bucket for b in stats.monthly], [b.tickets for b in stats.monthly], "工单 tickets"),
        "categories": charts.bar_chart("问题分类 / categories", [g.key or "—" for g in by_category], [g.tickets for g in by_category], "工单 tickets"),
        "keywords": charts.bar_chart("热词 / top keywords", [k.key for k in stats.keywords[:12]], [k.count for k in stats.keywords[:12]], "次数 count"),
    }
    return _environment().get_template("monthly.html.j2").render(s=stats, charts=svgs, slowest=slowest)


def _atomic_write(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False, newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(handle.name, 0o644)  # readable like any written report (mkstemp makes 0600)
    Path(handle.name).replace(path)


def _group_row(dimension: str, g: GroupStats) -> dict[str, Any]:
    return {
        "dimension": dimension, "key": g.key, "tickets": g.tickets, "resolved": g.resolved,
        "resolution_rate": g.resolution_rate, "reopened": g.reopened, "reopen_rate": g.reopen_rate,
        "closed": g.closed, "closed_loop_rate": g.closed_loop_rate,
        "first_response_mean_h": g.first_response.mean_hours, "first_response_p50_h": g.first_response.p50_hours,
        "first_response_p90_h": g.first_response.p90_hours, "resolution_mean_h": g.resolution_time.mean_hours,
        "resolution_p50_h": g.resolution_time.p50_hours, "resolution_p90_h": g.resolution_time.p90_hours,
    }


def csv_tables(stats: MonthStats) -> dict[str, list[dict[str, Any]]]:
    groups = [_group_row("total", stats.totals)] + [_group_row(n, g) for n, rows in stats.by.items() for g in rows]
    return {
        "groups": groups,
        "daily": [{"day": b.bucket, "tickets": b.tickets, "change": b.change} for b in stats.daily],
        "weekly": [{"week": b.bucket, "tickets": b.tickets, "change": b.change} for b in stats.weekly],
        "monthly": [{"month": b.bucket, "tickets": b.tickets, "change": b.change} for b in stats.monthly],
        "keywords": [{"keyword": k.key, "count": k.count, "weeks": k.weeks} for k in stats.keywords],
        "targets": [{"name": t.name, "target": t.target, "comparison": t.comparison, "value": t.value, "verdict": t.verdict} for t in stats.targets],
        "unresolved": [vars_of(u) for u in stats.unresolved],
        "hot-topics": [{"topic": k.key, "messages": k.count, "sample": k.sample} for k in stats.hot_topics],
        "recurring": [{"keyword": k.key, "weeks": k.weeks, "count": k.count} for k in stats.recurring],
        **{section.name: section.rows for section in (stats.sla, stats.satisfaction, stats.surveys)},
    }


def vars_of(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__slots__}


def _csv_text(rows: list[dict[str, Any]]) -> str:
    import io

    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return buffer.getvalue()


def markdown(stats: MonthStats) -> str:
    t = stats.totals
    lines = [
        f"# {stats.period} 客户反馈月报 / monthly feedback report", "",
        f"- 工单 tickets: {t.tickets} (环比 {pct(stats.month_on_month.tickets)})",
        f"- 解决率 resolution rate: {pct(t.resolution_rate)}; 重开率 reopen rate: {pct(t.reopen_rate)}",
        f"- 首次响应 first response mean/p50/p90 h: {fmt(t.first_response.mean_hours)} / {fmt(t.first_response.p50_hours)} / {fmt(t.first_response.p90_hours)}",
        f"- 解决时长 resolution mean/p50/p90 h: {fmt(t.resolution_time.mean_hours)} / {fmt(t.resolution_time.p50_hours)} / {fmt(t.resolution_time.p90_hours)}",
        f"- 未解决 L1/L2 unresolved: {stats.unresolved_count}", "",
        "| 指标 metric | 目标 target | 实际 value | 结果 |", "|---|---|---|---|",
        *(f"| {c.label} | {c.comparison} {fmt(c.target, c.name)} | {fmt(c.value, c.name)} | {c.verdict} |" for c in stats.targets),
        "", "热词 top keywords: " + ", ".join(f"{k.key} ({k.count})" for k in stats.keywords[:10]), "",
    ]
    return "\n".join(lines)


def write_report(stats: MonthStats, out: Path, *, pdf: bool = False) -> list[Path]:
    """Write ``monthly-<period>.html``, ``.md`` and one CSV per table; optionally ``.pdf``."""
    out.mkdir(parents=True, exist_ok=True)
    stem = f"monthly-{stats.period}"
    written = [out / f"{stem}.html", out / f"{stem}.md"]
    _atomic_write(written[0], render_html(stats))
    _atomic_write(written[1], markdown(stats))
    for name, rows in csv_tables(stats).items():
        path = out / f"{stem}-{name}.csv"
        _atomic_write(path, _csv_text(rows))
        written.append(path)
    if pdf:
        from monitor.reports.pdf import print_pdf

        written.append(print_pdf(written[0], out / f"{stem}.pdf"))
    return written
