"""APScheduler 3.x wiring: one ``poll:<source>`` job per source plus reserved housekeeping jobs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import SchedulerConfig

RULES_JOB = "housekeeping:rules"
ESCALATION_JOB = "housekeeping:stories"
HEARTBEAT_JOB = "housekeeping:heartbeat"
HEARTBEAT_URL_JOB = "housekeeping:heartbeat-url"
WATCH_JOB = "housekeeping:watch"
SLA_JOB = "housekeeping:sla"
"""SLA warnings/breaches and results, every minute (a leader may run it alone)."""
SLA_INTERVAL_SECONDS = 60.0
FOLLOWUP_JOB = "housekeeping:followups"
"""Satisfaction follow-ups for new resolves, queued and mailed (``feedback.satisfaction``)."""
LEASES_JOB = "housekeeping:leases"
TAKEOVER_JOB = "housekeeping:takeover"
GC_JOB = "housekeeping:gc"
"""Freeze long-lived objects out of the garbage collector's reach (``monitor.gcfreeze``)."""
GC_FIRST_SECONDS, GC_INTERVAL_SECONDS = 5.0, 60.0
"""One-shot: wake when the earliest lease held by another instance expires (``Daemon.take_over``)."""


def poll_job_id(source: str) -> str:
    return f"poll:{source}"


def make_scheduler(config: SchedulerConfig, *, workers: int) -> BackgroundScheduler:
    return BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=max(2, workers))},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": config.misfire_grace_seconds,
        },
        timezone=UTC,
    )


def add_interval_job(
    scheduler: BackgroundScheduler,
    job_id: str,
    func: Callable[[], Any],
    seconds: float,
    *,
    jitter: float = 0,
    start_now: bool = True,
    first: float | None = None,
) -> None:
    """``start_now``: the first run now, else after one interval; ``first``: after these seconds."""
    # next_run_time=None would add the job *paused* in APScheduler 3; leave it out to wait one interval
    options: dict[str, Any] = {"next_run_time": datetime.now(UTC)} if start_now else {}
    if first is not None:
        options["next_run_time"] = datetime.now(UTC) + timedelta(seconds=first)
    scheduler.add_job(
        func,
        IntervalTrigger(seconds=seconds, jitter=jitter or None, timezone=UTC),
        id=job_id,
        name=job_id,
        replace_existing=True,
        **options,
    )


def run_soon(scheduler: BackgroundScheduler, job_id: str) -> None:
    """Bring a job's next run forward to now (e.g. deliver alerts the moment they are written)."""
    job = scheduler.get_job(job_id)
    if job is not None:
        job.modify(next_run_time=datetime.now(UTC))


def run_at(scheduler: BackgroundScheduler, job_id: str, func: Callable[[], Any], when: datetime) -> None:
    """Run ``func`` once at ``when`` (replacing an earlier one-shot under ``job_id``); a late
    scheduler still runs it (no misfire grace: a takeover must not be dropped)."""
    scheduler.add_job(
        func,
        DateTrigger(run_date=when, timezone=UTC),
        id=job_id,
        name=job_id,
        replace_existing=True,
        misfire_grace_time=None,
    )
