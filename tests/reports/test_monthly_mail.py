"""The scheduled monthly report: mailed once per month through a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler
from sqlalchemy import select

from monitor.config import load_config
from monitor.errors import ConfigError
from monitor.reports.jobs import BACKUP_JOB, MONTHLY_JOB, schedule_jobs
from monitor.reports.mailer import send_monthly
from monitor.storage.db import Database
from monitor.storage.models import ReportRun
from tests.helpers.seed import seed


class Inbox(MessageHandler):
    def __init__(self) -> None:
        super().__init__()
        self.mails: list[Any] = []

    def handle_message(self, message: Any) -> None:
        self.mails.append(message_from_bytes(message.as_bytes(), policy=policy.default))


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def _config(tmp_path: Path, port: int, *, enabled: bool = True, targets: bool = True) -> Path:
    path = tmp_path / "yuqing.yaml"
    target = f"""alerts:
  targets:
    - name: mail
      kind: email
      enabled: false
      email: {{host: 127.0.0.1, port: {port}, security: none, from: yuqing@example.com, to: [ops@example.com]}}
""" if targets else ""
    path.write_text(
        f"state_dir: {tmp_path / 'state'}\n{target}reports:\n  monthly:\n    enabled: {str(enabled).lower()}\n"
        "    recipients: [ceo@example.com, pr@example.com]\n",
        encoding="utf-8",
    )
    return path


def _local(day: int, hour: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC) - timedelta(hours=8)  # local (UTC+8) to UTC


def test_the_report_is_mailed_once_per_month(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    config = load_config(_config(tmp_path, port))
    db = Database(config.database_url)
    db.upgrade()
    seed(db.engine, 3000)
    assert send_monthly(config, db, _local(1, 7)) is None  # before 08:00 on the 1st
    assert send_monthly(config, db, _local(1, 9)) == "sent"
    assert send_monthly(config, db, _local(1, 10)) is None
    again = Database(config.database_url)  # a restarted daemon
    assert send_monthly(config, again, _local(2, 9)) is None
    assert len(inbox.mails) == 1
    mail = inbox.mails[0]
    assert "2026-10" in mail["Subject"] and "月报" in mail["Subject"]
    assert {a.get_filename() for a in mail.iter_attachments()} >= {"monthly-2026-10.html", "monthly-2026-10-groups.csv"}
    html = next(a for a in mail.iter_attachments() if a.get_filename() == "monthly-2026-10.html").get_content()
    assert 'lang="zh-CN"' in html and "<svg" in html
    with db.read() as session:
        rows = session.scalars(select(ReportRun)).all()
    assert [(r.period, r.status) for r in rows] == [("2026-10", "sent")]
    again.dispose()
    db.dispose()


def test_a_failed_send_is_recorded_and_retried(tmp_path: Path) -> None:
    port = _port()
    config = load_config(_config(tmp_path, port))
    db = Database(config.database_url)
    db.upgrade()
    seed(db.engine, 500)
    assert send_monthly(config, db, _local(1, 9)) == "failed"  # nothing listens yet
    with db.read() as session:
        row = session.scalars(select(ReportRun)).one()
    assert row.status == "failed" and "ConnectionRefusedError" in (row.detail or "")
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert send_monthly(config, db, _local(1, 10)) == "sent"
        assert send_monthly(config, db, _local(1, 11)) is None
    finally:
        controller.stop()
    assert len(inbox.mails) == 1
    db.dispose()


def test_monthly_mail_needs_an_email_target(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, 25, targets=False))
    assert "email alert target" in str(caught.value.issues[0])


def test_the_daemon_registers_both_housekeeping_jobs() -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler()
    schedule_jobs(scheduler, lambda: None)  # type: ignore[arg-type,return-value]
    assert {job.id for job in scheduler.get_jobs()} == {BACKUP_JOB, MONTHLY_JOB}
