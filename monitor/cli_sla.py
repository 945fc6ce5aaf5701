"""``yuqing sla show CODE`` and ``yuqing sla due``: SLA clocks from the event log (docs/sla.zh.md).

``--json`` output is a stable interface (docs/cli-json.md).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from monitor.cli import CliError, load_or_exit, open_database
from monitor.config import AppConfig
from monitor.sla.calendar import UnknownYearError
from monitor.sla.clocks import Reading
from monitor.sla.holidays import OverrideError, operator_warning
from monitor.sla.notices import OPEN
from monitor.sla.policy import SlaEngine
from monitor.sla.settings import CLOCK_LABELS
from monitor.sla.store import build_engine, event_logs, facts, sync_calendar
from monitor.storage.models import Ticket, utcnow

EXIT_NOT_FOUND = 3
_WITHIN = re.compile(r"^(\d{1,6})(m|h|d)$")


def within(value: str) -> timedelta:
    """argparse type: a look-ahead like 30m, 2h or 1d (wall time)."""
    match = _WITHIN.match(value.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"时长格式应为 30m / 2h / 1d — expected like 30m, 2h, 1d: {value!r}")
    unit = {"m": "minutes", "h": "hours", "d": "days"}[match[2]]
    return timedelta(**{unit: int(match[1])})


def instant(value: str) -> datetime:
    """argparse type: an ISO 8601 time with its offset (``2026-11-30T09:00+08:00``)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"须为带时区的 ISO 时间 / not an ISO time with offset: {value!r}") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"请带时区 / give an offset, e.g. +08:00: {value!r}")
    return parsed


def _minutes(value: timedelta) -> float:
    return round(value.total_seconds() / 60, 1)


def reading_record(code: str | None, profile: str, r: Reading) -> dict[str, Any]:
    return {
        "code": code,
        "profile": profile,
        "clock": r.clock,
        "cycle": r.cycle,
        "state": r.level,
        "phase": r.phase,
        "target_minutes": _minutes(r.target),
        "elapsed_minutes": _minutes(r.elapsed),
        "paused_minutes": _minutes(r.paused),
        "percent": round(100 * r.ratio, 1),
        "started_at": r.started_at.isoformat(),
        "due_at": r.due_at.isoformat() if r.due_at else None,
        "warn_at": r.warn_due_at.isoformat() if r.warn_due_at else None,
        "stopped_at": r.stopped_at.isoformat() if r.stopped_at else None,
    }


def _engine(config: AppConfig, args: argparse.Namespace) -> tuple[Any, SlaEngine, datetime, str | None]:
    db = open_database(config)
    now: datetime = args.at or utcnow()
    with db.transaction() as session:
        sync_calendar(session)
    with db.read() as session:
        try:
            engine = build_engine(session, config.sla, config.calendars)
        except OverrideError as exc:
            raise CliError(f"日历覆盖文件有误 / calendar override file: {exc}") from None
    warning = operator_warning(
        {y for c in engine.calendars.values() if c.days for y in c.days.known_years},
        now.date(),
        from_month=config.calendars.warn_from_month,
    )
    return db, engine, now, warning


def _warn(warning: str | None) -> None:
    """The operator warning, after the answer (a refusal stays one line)."""
    if warning:
        print(warning, file=sys.stderr)


def cmd_show(args: argparse.Namespace) -> int:
    config = load_or_exit(args)
    db, engine, now, warning = _engine(config, args)
    with db.read() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == args.code.upper()))
        if ticket is None:
            raise CliError(f"没有工单 / no ticket {args.code}", code=EXIT_NOT_FOUND)
        try:
            profile, readings = engine.read(facts(ticket), event_logs(session, [ticket.id])[ticket.id], now)
        except UnknownYearError as exc:
            raise CliError(f"{ticket.code}: {exc}", code=1) from None
        records = [reading_record(ticket.code, profile, r) for r in readings]
        header = f"{ticket.code} [{ticket.priority or '-'}] {ticket.status}  SLA profile: {profile}"
    _warn(warning)
    if args.json:
        _print_json(records)
        return 0
    print(header)
    for r in records:
        print(
            f"  {CLOCK_LABELS.get(r['clock'], r['clock'])}: {r['state']} ({r['phase']}) "
            f"目标 target {r['target_minutes']} min, 已用 elapsed {r['elapsed_minutes']} min "
            f"({r['percent']} %), 暂停 paused {r['paused_minutes']} min, 到期 due {r['due_at'] or '-'}"
        )
    return 0


def cmd_due(args: argparse.Namespace) -> int:
    config = load_or_exit(args)
    db, engine, now, warning = _engine(config, args)
    horizon = now + args.within
    records: list[dict[str, Any]] = []
    refused: list[str] = []
    with db.read() as session:
        tickets = list(session.scalars(select(Ticket).where(Ticket.status.in_(OPEN)).order_by(Ticket.id)))
        logs = event_logs(session, [t.id for t in tickets])
        for ticket in tickets:
            try:
                profile, readings = engine.read(facts(ticket), logs[ticket.id], now)
            except UnknownYearError as exc:
                refused.append(f"{ticket.code}: {exc}")
                continue
            for r in readings:
                if r.phase == "running" and r.due_at is not None and r.due_at <= horizon:
                    records.append(reading_record(ticket.code, profile, r))
    records.sort(key=lambda r: str(r["due_at"]))
    _warn(warning)
    if refused:
        print(f"{len(refused)} 张工单的时钟被拒绝计算 / clocks refused: {refused[0]}", file=sys.stderr)
    if args.json:
        _print_json(records)
    else:
        for rec in records:
            print(f"{rec['code']}  {rec['clock']:<15} {rec['state']:<8} due {rec['due_at']}  ({rec['percent']} %)")
        print(f"{len(records)} 个时钟在 {args.within} 内到期或已超时 / clocks due within {args.within} or breached")
    return 0


def cmd_calendar(args: argparse.Namespace) -> int:
    """Which years the holiday calendar knows (and from where); syncs the package's years first."""
    from monitor.sla.holidays import package_years
    from monitor.storage.models import CalendarYear

    config = load_or_exit(args)
    db, engine, now, warning = _engine(config, args)
    with db.read() as session:
        stored = {y.year: y.source for y in session.scalars(select(CalendarYear).order_by(CalendarYear.year))}
    known = sorted({y for c in engine.calendars.values() if c.days for y in c.days.known_years} | set(stored))
    package = list(package_years())
    overrides = [y for y in known if y not in stored]
    record = {
        "package_years": [package[0], package[-1]] if package else [],
        "known_years": known,
        "override_years": overrides,
        "next_year_known": now.year + 1 in known,
        "warning": warning,
    }
    _warn(warning)
    if args.json:
        _print_json(record)
    else:
        span = f"{package[0]}–{package[-1]}" if package else "-"
        print(f"chinesecalendar: {span}; 已知年份 known years: {known[0] if known else '-'}–{known[-1] if known else '-'}")
        print(f"覆盖文件年份 override years: {', '.join(str(y) for y in overrides) or '-'}")
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    """Recompute ``sla_results`` (what the monthly report's SLA section reads) for one month."""
    from monitor.reports.period import Month
    from monitor.sla.results import refresh_results

    config = load_or_exit(args)
    try:
        month = Month.parse(args.month)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    db = open_database(config)
    now: datetime = args.at or utcnow()
    with db.transaction() as session:
        sync_calendar(session)
        engine = build_engine(session, config.sla, config.calendars)
        written, refused = refresh_results(session, engine, month.start, month.end, now)
    print(f"{month.label}: {written} 个时钟结果已更新 clock results written; {refused} 个工单因日历未知被拒绝 refused")
    return 0


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sla = sub.add_parser("sla", help="SLA clocks of tickets (docs/sla.zh.md)")
    ssub = sla.add_subparsers(dest="sla_command", required=True)
    show = ssub.add_parser("show", help="every clock of one ticket: target, elapsed, paused, due, state")
    show.add_argument("code")
    show.add_argument("--json", action="store_true", help="stable JSON array (docs/cli-json.md)")
    show.add_argument("--at", type=instant, help="read the clocks at this time instead of now")
    show.set_defaults(func=cmd_show)
    due = ssub.add_parser("due", help="running clocks due within a time (default 2h) or already breached")
    due.add_argument("--within", type=within, default=timedelta(hours=2), help="look-ahead: 30m, 2h, 1d")
    due.add_argument("--json", action="store_true", help="stable JSON array (docs/cli-json.md)")
    due.add_argument("--at", type=instant, help="as if now were this time")
    due.set_defaults(func=cmd_due)
    cal = ssub.add_parser("calendar", help="years the holiday calendar knows (package, override file)")
    cal.add_argument("--json", action="store_true", help="one JSON object")
    cal.add_argument("--at", type=instant, help="as if now were this time (for the warning)")
    cal.set_defaults(func=cmd_calendar)
    refresh = ssub.add_parser("refresh", help="recompute the SLA results of one month (monthly report)")
    refresh.add_argument("--month", required=True, help="YYYY-MM (tickets created in that month)")
    refresh.add_argument("--at", type=instant, help="as if now were this time")
    refresh.set_defaults(func=cmd_refresh)
