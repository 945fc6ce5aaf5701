"""Send pending e-mail follow-ups (satisfaction replies, survey questionnaires) over SMTP.

The row was written before (``followups``, status ``pending``); a send claims it (``sending``, so
a second instance skips it; a claim older than ``LEASE`` is released), then marks it ``sent`` or, after ``max_attempts`` failures (or a permanent SMTP refusal), ``failed``. The ``Message-ID``
comes from the row's token, so a re-send after a crash is recognisable. ``pace`` spaces the sends
(the survey rate limit); ``stop`` ends a long run early (rows left ``pending`` for the next).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate

import structlog
from sqlalchemy import select, update

from monitor.alerts.senders.base import Outcome
from monitor.alerts.senders.email import EmailConfig, EmailSender
from monitor.storage.db import Database
from monitor.storage.models import Followup, utcnow

log = structlog.get_logger("yuqing.feedback")
MAX_ATTEMPTS = 5
LEASE = timedelta(minutes=10)
"""A row claimed (``sending``) longer ago than this was left by a crash: it is pending again."""


@dataclass
class MailStats:
    sent: int = 0
    failed: int = 0
    retry: int = 0


def build_mail(row: Followup, config: EmailConfig) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = row.subject
    message["From"] = formataddr(("客户服务 Customer Service", config.sender))
    message["To"] = row.address or ""
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = row.message_id
    if row.in_reply_to:
        message["In-Reply-To"] = row.in_reply_to
    if row.refs:
        message["References"] = row.refs
    message["X-Yuqing-Followup"] = row.token
    if row.campaign:
        message["X-Yuqing-Campaign"] = row.campaign
        message["List-Unsubscribe"] = f"<mailto:{config.sender}?subject=unsubscribe%20{row.token}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.body, charset="utf-8")
    return message


def deliver_followups(
    db: Database,
    sender: EmailSender,
    *,
    kinds: Sequence[str] = ("satisfaction", "survey"),
    campaign: str | None = None,
    limit: int = 100,
    pace: float = 0.0,
    stop: threading.Event | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> MailStats:
    """Send up to ``limit`` pending e-mail follow-ups, ``pace`` seconds apart."""
    config = sender.config
    assert isinstance(config, EmailConfig)
    stats = MailStats()
    with db.transaction() as session:  # claims left by a crashed run
        session.execute(
            update(Followup)
            .where(Followup.status == "sending", Followup.sent_at < clock() - LEASE)
            .values(status="pending", sent_at=None)
        )
    with db.read() as session:
        query = select(Followup.id).where(
            Followup.status == "pending", Followup.channel == "email", Followup.kind.in_(list(kinds))
        )
        if campaign is not None:
            query = query.where(Followup.campaign == campaign)
        ids = list(session.scalars(query.order_by(Followup.id).limit(limit)))
    gate = stop or threading.Event()
    for index, row_id in enumerate(ids):
        if index and pace and gate.wait(pace):
            break
        if gate.is_set():
            break
        with db.transaction() as session:  # claim it: another instance skips it
            claimed = session.execute(
                update(Followup)
                .where(Followup.id == row_id, Followup.status == "pending")
                .values(status="sending", sent_at=clock())
            )
            if not getattr(claimed, "rowcount", 0):
                continue
            row = session.get(Followup, row_id)
            assert row is not None
            message = build_mail(row, config)
        result = sender.send_message(message)
        with db.transaction() as session:
            row = session.get(Followup, row_id)
            assert row is not None
            row.attempts += 1
            if result.outcome is Outcome.OK:
                row.status, row.sent_at, row.last_error = "sent", clock(), None
                stats.sent += 1
            elif result.outcome is Outcome.RETRY and row.attempts < MAX_ATTEMPTS:
                row.status, row.sent_at, row.last_error = "pending", None, result.detail
                stats.retry += 1
            else:
                row.status, row.last_error = "failed", result.detail or "gave up"
                stats.failed += 1
                log.warning("followup_failed", followup=row.id, kind=row.kind, error=result.detail)
    if stats.sent or stats.failed:
        log.info("followups_sent", sent=stats.sent, failed=stats.failed, retry=stats.retry)
    return stats


def email_sender(targets: Sequence[object], name: str | None) -> EmailSender | None:
    """The e-mail sender built from the ``alerts.targets`` entry ``name`` (None: not configured)."""
    from monitor.targets import TargetConfig

    for target in targets:
        if isinstance(target, TargetConfig) and target.name == name and target.kind == "email":
            assert isinstance(target.settings, EmailConfig)
            return EmailSender(target.name, target.settings)
    return None
