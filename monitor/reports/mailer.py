"""Mail last month's report on the configured day to ``reports.monthly.recipients``.

Idempotent per month through a ``report_runs`` row: claimed (``sending``) before the report is
built, ``sent`` after the SMTP server accepted it, ``failed`` with the reason otherwise (retried
next hour). A ``sending`` row older than an hour is taken as a crash mid-send and retried: a
month may then be mailed twice, never silently not at all. SMTP settings (host, port, TLS, login,
From) are those of an ``email`` alert target.
"""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from monitor.alerts.senders.email import EmailConfig, EmailSender
from monitor.config import AppConfig
from monitor.reports.compute import month_stats
from monitor.reports.period import Month
from monitor.reports.render import markdown, write_report
from monitor.storage.db import Database
from monitor.storage.models import ReportRun

log = structlog.get_logger("yuqing.reports")
KIND = "monthly"
STALE = timedelta(hours=1)
SEND_HOUR = 8  # local time: not before the working day starts


def due_month(config: AppConfig, now: datetime) -> Month | None:
    """The month to mail at ``now`` (the previous one), or ``None`` before the configured day/hour."""
    offset = config.reports.utc_offset_hours
    local = now.astimezone(UTC) + timedelta(hours=offset)
    if local.day < config.reports.monthly.day or (local.day == config.reports.monthly.day and local.hour < SEND_HOUR):
        return None
    return Month.containing(now, offset).shift(-1)


def _claim(db: Database, period: str, now: datetime) -> bool:
    """Mark ``period`` as being sent; ``False`` when it was sent or another run is sending it."""
    try:
        with db.transaction() as session:
            row = session.scalars(select(ReportRun).where(ReportRun.kind == KIND, ReportRun.period == period)).first()
            if row is None:
                session.add(ReportRun(kind=KIND, period=period, status="sending", created_at=now))
                return True
            if row.status == "sent" or (row.status == "sending" and row.created_at > now - STALE):
                return False
            row.status, row.created_at, row.detail = "sending", now, None
            return True
    except IntegrityError:  # another process inserted the row first
        return False


def _finish(db: Database, period: str, status: str, detail: str | None) -> None:
    with db.transaction() as session:
        row = session.scalars(select(ReportRun).where(ReportRun.kind == KIND, ReportRun.period == period)).one()
        row.status, row.detail = status, detail


def email_target(config: AppConfig) -> tuple[str, EmailConfig] | None:
    wanted = config.reports.monthly.sender_target
    for target in config.alerts.targets:
        if target.kind == "email" and isinstance(target.settings, EmailConfig) and wanted in (None, target.name):
            return target.name, target.settings
    return None


def build_message(settings: EmailConfig, recipients: list[str], subject: str, body: str, files: list[Path]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message.set_content(body)
    for path in files:
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        main, sub = kind.split("/", 1)
        message.add_attachment(path.read_bytes(), maintype=main, subtype=sub, filename=path.name)
    return message


def send_monthly(config: AppConfig, db: Database, now: datetime) -> str | None:
    """Mail the previous month's report once; returns "sent"/"failed", ``None`` when nothing to do."""
    monthly = config.reports.monthly
    target = email_target(config)
    month = due_month(config, now)
    if not monthly.enabled or not monthly.recipients or target is None or month is None:
        return None
    if not _claim(db, month.label, now):
        return None
    name, settings = target
    try:
        stats = month_stats(db.engine, config.reports, month)
        out = Path(monthly.out_dir) if monthly.out_dir else config.state_dir / "reports"
        files = write_report(stats, out / month.label)
        subject = f"{settings.subject_prefix} {month.label} 客户反馈月报 / monthly feedback report"
        message = build_message(settings, monthly.recipients, subject, markdown(stats), files)
        with EmailSender(name, settings)._session() as client:
            client.send_message(message, to_addrs=monthly.recipients)
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"[:500]
        _finish(db, month.label, "failed", detail)
        log.error("monthly report not sent", period=month.label, target=name, error=detail)
        return "failed"
    _finish(db, month.label, "sent", None)
    log.info("monthly report sent", period=month.label, target=name, recipients=len(monthly.recipients))
    return "sent"
