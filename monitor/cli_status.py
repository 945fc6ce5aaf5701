"""``yuqing status``: per source last success, lag, errors, disabled-by-auth; outbox depth and age.

Reads what the daemon persisted (``source_health``, the outbox), so it works from another shell
or host while the daemon runs. Exit code 0 when every enabled source is fine, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from monitor.cli import load_or_exit, open_database
from monitor.config import AppConfig, SourceConfig
from monitor.storage.health_state import load_source_health, outbox_state
from monitor.storage.models import SourceHealthRow, utcnow


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def source_state(source: SourceConfig, row: SourceHealthRow | None, now: datetime, slack: float) -> dict[str, Any]:
    lag = (now - row.last_success_at).total_seconds() if row is not None and row.last_success_at else None
    if not source.enabled:
        state = "off"
    elif row is None:
        state = "never"
    elif row.disabled_reason:
        state = "disabled"
    elif row.failures:
        state = "failing"
    elif lag is None or lag > 2 * source.interval_seconds + slack:
        state = "late"
    else:
        state = "ok"
    return {
        "source": source.name,
        "kind": source.kind,
        "state": state,
        "interval_s": source.interval_seconds,
        "last_success": _iso(row.last_success_at) if row else None,
        "lag_s": round(lag, 1) if lag is not None else None,
        "failures": row.failures if row else 0,
        "failing_since": _iso(row.failing_since) if row else None,
        "last_error": row.last_error if row else None,
        "last_error_at": _iso(row.last_error_at) if row else None,
        "disabled": row.disabled_reason if row else None,
        "instance": row.instance if row else None,
    }


def collect(config: AppConfig) -> dict[str, Any]:
    db = open_database(config)
    try:
        with db.read() as session:
            rows = load_source_health(session)
            depth, oldest = outbox_state(session)
    finally:
        db.dispose()
    now = utcnow()
    slack = config.scheduler.ready_slack_seconds
    return {
        "at": _iso(now),
        "sources": [source_state(s, rows.get(s.name), now, slack) for s in config.sources],
        "outbox": {
            "depth": depth,
            "oldest_age_s": round((now - oldest).total_seconds(), 1) if oldest is not None else None,
        },
    }


def _print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("数据源 source", "状态 state", "上次成功 last success", "延迟 lag", "失败 failures", "错误 error")
    for s in report["sources"]:
        error = s["disabled"] or s["last_error"] or ""
        lag = f"{s['lag_s']:.0f}s" if s["lag_s"] is not None else "-"
        table.add_row(s["source"], s["state"], s["last_success"] or "-", lag, str(s["failures"]), error[:80])
    console = Console()
    console.print(table)
    box = report["outbox"]
    age = f"{box['oldest_age_s']:.0f}s" if box["oldest_age_s"] is not None else "-"
    console.print(f"待发通知 outbox: {box['depth']} pending, oldest {age}")


def cmd_status(args: argparse.Namespace) -> int:
    report = collect(load_or_exit(args))
    if args.json:
        json.dump(report, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        _print_table(report)
    return 0 if all(s["state"] in ("ok", "off") for s in report["sources"]) else 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = sub.add_parser("status", help="per source: last success, lag, errors, disabled; outbox depth/age")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_status)
