"""The ``housekeeping:followups`` job: satisfaction follow-ups queued for new resolves, then sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from monitor.alerts.links import LinkSigner
from monitor.alerts.senders.email import EmailConfig
from monitor.feedback.followups import queue_satisfaction
from monitor.feedback.mailer import MailStats, deliver_followups, email_sender
from monitor.feedback.settings import FeedbackConfig
from monitor.storage.db import Database
from monitor.targets import TargetConfig


@dataclass
class FollowupRun:
    queued: int = 0
    ready: int = 0
    mail: MailStats = field(default_factory=MailStats)


def run_followups(
    db: Database,
    config: FeedbackConfig,
    targets: Sequence[TargetConfig],
    signer: LinkSigner | None,
    *,
    now: datetime,
) -> FollowupRun:
    sender = email_sender(targets, config.satisfaction.mail_target)
    mail_from = sender.config.sender if sender is not None and isinstance(sender.config, EmailConfig) else None
    run = FollowupRun()
    with db.transaction() as session:
        made = queue_satisfaction(session, config.satisfaction, signer, mail_from=mail_from, now=now)
        run.queued = len(made)
        run.ready = sum(1 for f in made if f.status == "ready")
    if sender is not None:
        run.mail = deliver_followups(db, sender, kinds=("satisfaction",))
    return run
