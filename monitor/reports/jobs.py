"""Housekeeping jobs: the daily SQLite backup (weekly kept longer) and the monthly report mail.

Both run hourly and are idempotent: the backup by its file name (one per local day, one weekly
per ISO week), the mail by a ``report_runs`` row per month.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from monitor.reports.settings import BackupsConfig
from monitor.storage.backup import backup
from monitor.storage.db import sqlite_file

if TYPE_CHECKING:
    from monitor.runtime import Runtime

log = structlog.get_logger("yuqing.reports")
BACKUP_JOB = "housekeeping:backup"
MONTHLY_JOB = "housekeeping:monthly-report"
HOURLY = 3600.0


def scheduled_backup(
    database: Path, config: BackupsConfig, state_dir: Path, now: datetime, offset_hours: int
) -> Path | None:
    """Today's backup if due and not taken yet; links it as this ISO week's weekly; prunes old ones."""
    local = now.astimezone(UTC) + timedelta(hours=offset_hours)
    directory = config.directory(state_dir)
    daily = directory / "daily" / f"yuqing-{local:%Y-%m-%d}.db"
    if local.hour < config.hour or daily.exists():
        return None
    backup(database, daily)
    if config.keep_weekly:
        iso = local.isocalendar()
        weekly = directory / "weekly" / f"yuqing-{iso.year}-W{iso.week:02d}.db"
        if not weekly.exists():
            weekly.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(daily, weekly)  # the same full copy, kept longer
            except OSError:
                shutil.copy2(daily, weekly)
    prune(directory / "daily", config.keep_daily)
    prune(directory / "weekly", config.keep_weekly)
    return daily


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups (names sort by date) in ``directory``."""
    if not directory.is_dir():
        return []
    files = sorted(directory.glob("yuqing-*.db"))
    doomed = files[: max(0, len(files) - keep)]
    for path in doomed:
        path.unlink()
    return doomed


def schedule_jobs(
    scheduler: Any, runtime: Callable[[], Runtime], leading: Callable[[], bool] = lambda: True
) -> None:
    """Register the hourly backup and monthly-report jobs (daemon start-up); with several
    instances on one database only the one ``leading()`` runs them."""
    from monitor.scheduler import add_interval_job

    add_interval_job(scheduler, BACKUP_JOB, lambda: leading() and run_backup(runtime()), HOURLY)
    add_interval_job(scheduler, MONTHLY_JOB, lambda: leading() and run_monthly(runtime()), HOURLY)


def run_backup(runtime: Runtime, now: datetime | None = None) -> Path | None:
    config = runtime.config
    database = sqlite_file(config.database_url)
    if not config.backups.enabled or database is None:
        return None
    try:
        made = scheduled_backup(
            database, config.backups, config.state_dir, now or datetime.now(UTC), config.reports.utc_offset_hours
        )
    except (OSError, Exception) as exc:  # a failed backup is told, the daemon goes on
        log.error("backup failed", error=f"{type(exc).__name__}: {exc}")
        return None
    if made is not None:
        log.info("backup", path=str(made))
    return made


def run_monthly(runtime: Runtime, now: datetime | None = None) -> str | None:
    if not runtime.config.reports.monthly.enabled:
        return None  # not even imported: matplotlib stays out of a daemon that sends no report
    from monitor.reports.mailer import send_monthly

    try:
        return send_monthly(runtime.config, runtime.db, now or datetime.now(UTC))
    except Exception as exc:  # logged; the run is retried next hour
        log.error("monthly report failed", error=f"{type(exc).__name__}: {exc}")
        return None
