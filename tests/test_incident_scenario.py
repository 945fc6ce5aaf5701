"""200 reposts of one complaint in 5 minutes across Weibo-RSS, Reddit and a chat export:
one incident, one page to the primary (after the route's group_wait), escalation to the secondary
15 minutes after that page when nobody acknowledges, silence after the acknowledgement, one
resolved notice to everyone paged. Injected clock, no sleeps."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from monitor.alerts.outbox import Outbox
from monitor.alerts.senders.base import Sender
from monitor.alerts.senders.registry import sender_class
from monitor.config import AlertsConfig
from monitor.message import Author, Batch, Engagement, Message
from monitor.pipeline import process_batch
from monitor.storage.db import Database
from monitor.storage.models import Incident, StoredMessage, Story, Ticket
from monitor.stories.lifecycle import acknowledge_ref, resolve_ref
from monitor.stories.lifecycle import run_timers as run_escalation
from monitor.stories.settings import StoriesSettings
from monitor.targets import TargetConfig
from monitor.tickets.incident_settings import IncidentsConfig, SpikeRule
from tests.helpers.builders import KeywordStub
from tests.helpers.context import context, settings
from tests.helpers.oncall import day_and_backup
from tests.helpers.receiver import Receiver, receiver

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)
COMPLAINT = "美团外卖送来的饭里吃出了头发，打客服电话三次没人管，我要投诉这家店！"
VARIANTS = [
    "{c}",
    "转发微博//@用户{i}: {c}",
    "太过分了//@小王{i}:{c} #外卖安全# http://t.cn/A{i}",
    "美團外賣送來的飯裡吃出了頭髮，打客服電話三次沒人管，我要投訴這家店！",
    "@美团外卖 {c} https://weibo.com/{i}",
]
SOURCES = [("weibo-rss", "rss"), ("reddit", "reddit"), ("wechat-export", "chat")]
ANALYZER = KeywordStub({"投诉": ("L2", True), "投訴": ("L2", True)})
ONCALL = {
    "people": {
        "zhang": {"name": "张伟", "targets": ["zhang"]},
        "wang": {"name": "王芳", "targets": ["wang"]},
        "chen": {"name": "陈静", "targets": ["chen"]},
    },
    "teams": {
        "pr": {
            "rotations": day_and_backup(),
            "manager": "chen",
            "escalation": [
                {"notify": "primary", "after_minutes": 0},
                {"notify": "secondary", "after_minutes": 15},
                {"notify": "manager", "after_minutes": 45},
            ],
        }
    },
}


def reposts(n: int) -> list[Message]:
    out = []
    for i in range(n):
        source, channel = SOURCES[i % 3]
        out.append(
            Message(
                source=source,
                external_id=f"{source}-{i}",
                thread_key=f"{source}-{i}",
                text=VARIANTS[i % len(VARIANTS)].format(c=COMPLAINT, i=i),
                created_at=T0 + timedelta(seconds=i * 1.5),
                channel=channel,
                author=Author(f"u{i}", f"用户{i}", followers=100 + i),
                url=f"https://example.com/{source}/{i}",
                engagement=Engagement(likes=i % 7, reposts=i % 3, replies=1),
            )
        )
    return out


ROUTE = {"oncall": "pr", "group_wait": "60s", "group_interval": "60m"}


def setup(r: Receiver) -> tuple[StoriesSettings, list[TargetConfig], dict[str, Sender]]:
    cls = sender_class("webhook")
    names = ("zhang", "wang", "chen")
    targets = [TargetConfig(name=n, kind="webhook", min_priority="L1") for n in names]
    paging = settings(
        targets,
        incidents=IncidentsConfig(spikes=[SpikeRule(window_minutes=10, min_count=20, priority="L1")]),
        oncall=ONCALL,
        route=ROUTE,
    )
    senders = {n: cls(n, cls.Config.model_validate({"url": f"{r.url}/{n}"})) for n in names}
    return paging, targets, senders


def by_path(r: Receiver) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for request in r.requests:
        out.setdefault(request.path.strip("/"), []).append(request.json)
    return out


def test_two_hundred_reposts_page_once_escalate_stop_on_ack_and_resolve_once(sqlite_db: Database) -> None:
    with receiver() as r:
        paging, _targets, senders = setup(r)
        outbox = Outbox(sqlite_db, senders, AlertsConfig(), instance="t")
        messages = reposts(200)
        for start in range(0, 200, 30):  # batches per source, interleaved in time
            chunk = messages[start : start + 30]
            for source, kind in SOURCES:
                mine = tuple(m for m in chunk if m.source == source)
                if mine:
                    process_batch(context(sqlite_db, ANALYZER, stories=paging, now=mine[-1].created_at), source, kind, Batch(mine, {}))
            outbox.deliver()
        with sqlite_db.read() as session:
            incidents = list(session.scalars(select(Incident)))
            assert len(incidents) == 1
            incident = incidents[0]
            assert (incident.code, incident.state, incident.severity, incident.team) == (
                "INC-1",
                "open",
                "L1",
                "pr",
            )
            assert incident.message_count == 200
            assert incident.sources == ["reddit", "wechat-export", "weibo-rss"]
            linked = session.scalar(select(func.count()).where(StoredMessage.incident_id == incident.id))
            assert linked == 200
            assert session.scalar(select(func.count()).select_from(Ticket)) == 200  # one per thread, linked
            story = session.scalars(select(Story)).one()  # the incident took the ticket story over
            assert (story.kind, story.incident_id, story.team) == ("incident", incident.id, "pr")
            assert story.paged_at is not None and story.paged_at >= story.opened_at + timedelta(seconds=60)
            opened = story.paged_at  # escalation steps count from the first page
        assert {k: len(v) for k, v in by_path(r).items()} == {"zhang": 1}
        page = by_path(r)["zhang"][0]
        assert page["incident"] == "INC-1" and page["step"] == "page:0:0"
        assert page["idempotency_key"] == f"story:{story.id}:page:0:0@zhang"
        assert page["recipients"] == [{"id": "zhang", "name": "张伟", "mention": ""}]
        assert len(page["top"]) == 3 and all(t["url"] for t in page["top"])

        # nobody acknowledges: nothing before 15 minutes, the secondary at 15
        assert run_escalation(sqlite_db, paging, now=opened + timedelta(minutes=14)).pages == 0
        assert run_escalation(sqlite_db, paging, now=opened + timedelta(minutes=15)).pages == 1
        outbox.deliver()
        assert {k: len(v) for k, v in by_path(r).items()} == {"zhang": 1, "wang": 1}
        assert by_path(r)["wang"][0]["step"] == "page:1:0"

        # the secondary acknowledges with the ticket code of one of the reposts: everyone paged so
        # far is told who took it, and no page after that
        with sqlite_db.read() as session:
            ticket_code = session.scalar(select(Ticket.code).order_by(Ticket.id.desc()).limit(1))
        acked = acknowledge_ref(
            sqlite_db, str(ticket_code), paging, actor="wang", now=opened + timedelta(minutes=16)
        )
        assert (acked.changed, acked.notices) == (True, 2)
        outbox.deliver()
        notices = {k: v[-1] for k, v in by_path(r).items()}
        assert {k: (p["step"], p["acknowledged_by"]) for k, p in notices.items()} == {
            "zhang": ("acknowledged", "wang"),
            "wang": ("acknowledged", "wang"),
        }
        assert "ack_url" not in notices["zhang"]
        for minutes in (30, 45, 60, 90):
            assert run_escalation(sqlite_db, paging, now=opened + timedelta(minutes=minutes)).pages == 0
        more = [
            Message(
                source="weibo-rss",
                external_id=f"late-{i}",
                thread_key=f"late-{i}",
                text=f"转发微博//@迟到{i}: {COMPLAINT}",
                created_at=T0 + timedelta(minutes=20, seconds=i),
                channel="rss",
            )
            for i in range(30)
        ]
        process_batch(context(sqlite_db, ANALYZER, stories=paging, now=T0 + timedelta(minutes=21)), "weibo-rss", "rss", Batch(tuple(more), {}))
        outbox.deliver()
        assert {k: len(v) for k, v in by_path(r).items()} == {"zhang": 2, "wang": 2}

        # resolved: one notice to everyone who was paged, none to the manager who never was
        result = resolve_ref(sqlite_db, "INC-1", paging, actor="wang", now=opened + timedelta(hours=2))
        assert result.notices == 2
        assert not resolve_ref(
            sqlite_db, "INC-1", paging, actor="wang", now=opened + timedelta(hours=2)
        ).changed
        outbox.deliver()
        got = by_path(r)
        assert {k: [p["step"] for p in v] for k, v in got.items()} == {
            "zhang": ["page:0:0", "acknowledged", "resolved"],
            "wang": ["page:1:0", "acknowledged", "resolved"],
        }
        keys = [p["idempotency_key"] for v in got.values() for p in v]
        assert len(keys) == len(set(keys))
        with sqlite_db.read() as session:
            assert session.scalar(select(Incident.message_count)) == 230
