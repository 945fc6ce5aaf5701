"""A review-held L1 threat is not silent: one review notice to the review route (personal data
masked for the group chat); approval keeps every analysed field on the ticket and the page."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from monitor.alerts.outbox import Outbox
from monitor.alerts.senders.registry import sender_class
from monitor.analysis.engine import load_analyzer
from monitor.config import AlertsConfig
from monitor.message import Batch, Message
from monitor.pipeline import decide_review, process_batch
from monitor.storage.db import Database
from monitor.storage.models import Alert, StoredMessage, Ticket
from monitor.targets import TargetConfig
from tests.helpers.context import context, settings
from tests.helpers.receiver import receiver

RULES = Path(__file__).resolve().parents[2] / "rules"
T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
THREAT = "再不退款我就弄死你，我电话13812345678，你们看着办"


def test_held_threat_sends_one_review_notice_and_approval_keeps_the_analysis(sqlite_db: Database) -> None:
    analyzer = load_analyzer([RULES])
    targets = [TargetConfig(name="reviewers", kind="wecom"), TargetConfig(name="pager", kind="webhook")]
    route = {
        "receivers": ["pager"],
        "group_wait": 0,
        "routes": [{"name": "review", "match": {"kind": ["review"]}, "receivers": ["reviewers"]}],
    }
    ctx = context(sqlite_db, analyzer, stories=settings(targets, route=route), now=T0)
    with receiver() as r:
        wecom, hook = sender_class("wecom"), sender_class("webhook")
        senders = {
            "reviewers": wecom("reviewers", wecom.Config.model_validate({"key": "K", "base_url": r.url})),
            "pager": hook("pager", hook.Config.model_validate({"url": f"{r.url}/pager"})),
        }
        outbox = Outbox(sqlite_db, senders, AlertsConfig(), instance="t")
        message = Message(
            source="chat", external_id="m1", thread_key="c1", text=THREAT, created_at=T0, channel="chat"
        )
        for _ in range(2):  # the same message read twice (a replay) is still one notice
            process_batch(ctx, "chat", "chat_export", Batch((message,), {}))
        outbox.deliver()
        assert len(r.requests) == 1
        notice = r.requests[0]
        assert notice.path.startswith("/cgi-bin/webhook/send")
        content = notice.json["markdown"]["content"]
        assert "待审核 Review needed" in content and "review.threat" in content
        assert "138****5678" in content and "13812345678" not in content, "masked for the group chat"
        with sqlite_db.read() as session:
            row = session.scalars(select(StoredMessage)).one()
            assert (row.review_status, row.ticket_id) == ("pending", None)
            assert session.scalars(select(Alert.kind)).all() == ["review"]

        assert decide_review(ctx, row.id, approve=True) == "approved"
        outbox.deliver()
        with sqlite_db.read() as session:
            ticket = session.scalars(select(Ticket)).one()
            assert (ticket.priority, ticket.feedback_type, ticket.category) == ("L1", "complaint", "process")
        page = next(req.json for req in r.requests if req.path == "/pager")
        assert page["kind"] == "ticket" and page["priority"] == "L1"
        assert (page["type"], page["category"]) == ("complaint", "process")
        assert set(page["tags"]) >= {"threat", "refund"}
        assert {"review.threat", "escalation.refund"} <= set(page["rules"])
        assert "弄死你" in page["keywords"] and "退款" in " ".join(page["keywords"])
        assert (
            len([req for req in r.requests if req.path.startswith("/cgi-bin")]) == 1
        )  # no second review notice
