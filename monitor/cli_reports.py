"""``yuqing stats`` and ``yuqing report monthly``: a month's metrics against the policy's targets."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from monitor.cli import CliError, load_or_exit, open_database
from monitor.config import AppConfig
from monitor.reports.period import Month
from monitor.reports.records import DIMENSIONS, GroupStats, MonthStats, Section


def month_arg(value: str) -> Month:
    try:
        return Month.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _stats(args: argparse.Namespace, dimensions: list[str] | None, config: AppConfig | None = None) -> MonthStats:
    from monitor.reports.compute import month_stats

    config = config or load_or_exit(args)
    month = Month(args.month.year, args.month.month, config.reports.utc_offset_hours)
    db = open_database(config)
    try:
        return month_stats(db.engine, config.reports, month, dimensions)
    finally:
        db.dispose()


def cmd_stats(args: argparse.Namespace) -> int:
    stats = _stats(args, [args.by] if args.by else None)
    if args.json:
        print(json.dumps(stats.to_json(), ensure_ascii=False, indent=2))
        return 0
    # a pipe or a file gets the whole table (rich assumes 80 columns there); a terminal its width
    console = Console() if sys.stdout.isatty() else Console(width=160)
    console.print(f"[bold]{stats.period}[/] 工单统计 / ticket metrics (UTC{stats.utc_offset_hours:+d})")
    console.print(_groups_table("合计 / total", [stats.totals]))
    for name, rows in stats.by.items():
        console.print(_groups_table(f"按 {name}", rows))
    for section in (stats.sla, stats.satisfaction, stats.surveys):
        console.print(_section_table(section))
    targets = Table(title="目标 / targets")
    for column in ("指标 metric", "目标 target", "实际 value", "结果 verdict"):
        targets.add_column(column, overflow="fold")
    for check in stats.targets:
        shown = _pct if check.name in TARGET_RATES else _num
        targets.add_row(check.label, f"{check.comparison} {shown(check.target)}", shown(check.value), check.verdict)
    console.print(targets)
    change = stats.month_on_month
    console.print(f"环比 month-on-month: tickets {_pct(change.tickets)}; 周环比 week-on-week: {_pct(stats.week_on_week)}")
    console.print("热词 top keywords: " + ", ".join(f"{k.key} {k.count}" for k in stats.keywords[:10]))
    return 0


TARGET_RATES = {"resolution_rate", "complaint_satisfaction", "overall_satisfaction", "major_on_time", "closed_loop"}
"""Targets that are shares (shown as percentages, like the rates in the tables above them)."""


def _groups_table(title: str, rows: list[GroupStats]) -> Table:
    """One row per group; the durations as mean/p50/p90 in one cell each, so the table fits an
    80-column terminal, and numbers wrap (``fold``) rather than being cut with an ellipsis."""
    table = Table(title=title)
    columns = ("key", "工单 tickets", "解决 resolved", "重开 reopen", "闭环 closed", "首次响应 h mean/p50/p90", "解决 h mean/p50/p90")
    for column in columns:
        table.add_column(column, justify="left" if column == "key" else "right", overflow="fold")
    for g in rows:
        table.add_row(
            g.key or "—", str(g.tickets), _pct(g.resolution_rate), _pct(g.reopen_rate), _pct(g.closed_loop_rate),
            "/".join(_num(v) for v in (g.first_response.mean_hours, g.first_response.p50_hours, g.first_response.p90_hours)),
            "/".join(_num(v) for v in (g.resolution_time.mean_hours, g.resolution_time.p50_hours, g.resolution_time.p90_hours)),
        )
    return table


SECTION_TITLES = {"sla": "SLA 达成 / attainment", "satisfaction": "满意度 / satisfaction", "surveys": "调查 / surveys"}


def _section_table(section: Section) -> Table | str:
    """SLA attainment, satisfaction or survey results; the section's note when it has no data."""
    title = SECTION_TITLES.get(section.name, section.name)
    if not section.available:
        return f"{title}: {section.note}"
    table = Table(title=title)
    for key in section.rows[0]:
        table.add_column(key, justify="right", overflow="fold")
    for row in section.rows:
        table.add_row(*(
            value if isinstance(value, str) else _pct(value) if key in ("rate", "attainment") else _num(value)
            for key, value in row.items()
        ))  # fmt: skip
    return table


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.2f}%" if value < 0 else f"{value * 100:.2f}%"


def cmd_report_monthly(args: argparse.Namespace) -> int:
    from monitor.reports.charts import FontMissingError
    from monitor.reports.pdf import PdfError
    from monitor.reports.render import write_report

    config = load_or_exit(args)
    out = Path(args.out) if args.out else config.state_dir / "reports"
    if out.exists() and not out.is_dir():
        raise CliError(f"不是目录 / not a directory: {out}")
    stats = _stats(args, None, config)
    try:
        files = write_report(stats, out, pdf=args.pdf)
    except (FontMissingError, PdfError, OSError) as exc:
        raise CliError(str(exc), 1) from None
    for path in files:
        print(path)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stats = sub.add_parser("stats", help="a month's ticket metrics against the targets (table or --json)")
    stats.add_argument("--period", dest="month", type=month_arg, required=True, help="month, YYYY-MM")
    stats.add_argument("--by", choices=sorted(DIMENSIONS), help="break down by one dimension only")
    stats.add_argument("--json", action="store_true", help="machine-readable output (docs/cli-json.md)")
    stats.set_defaults(func=cmd_stats)
    report = sub.add_parser("report", help="periodic reports")
    report_sub = report.add_subparsers(dest="report_command", required=True)
    monthly = report_sub.add_parser("monthly", help="the monthly report: HTML, CSV tables, Markdown (and PDF)")
    monthly.add_argument("--month", type=month_arg, required=True, help="month, YYYY-MM")
    monthly.add_argument("--out", help="output directory (default <state_dir>/reports)")
    monthly.add_argument("--pdf", action="store_true", help="also print the HTML to PDF with headless Chromium")
    monthly.set_defaults(func=cmd_report_monthly)
