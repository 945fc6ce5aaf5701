"""A story pages once: repost bursts and near-identical posts through the route tree, with real
HTTP and SMTP receivers on 127.0.0.1 and an injected clock (no sleeping)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler
from sqlalchemy import select

from monitor.alerts.outbox import Outbox
from monitor.alerts.senders.base import Sender
from monitor.alerts.senders.registry import sender_class
from monitor.config import AlertsConfig
from monitor.message import Author, Batch, Engagement, Message
from monitor.pipeline import process_batch
from monitor.storage.db import Database
from monitor.storage.models import Alert, Incident, Story, Ticket, TicketEvent
from monitor.stories import members
from monitor.stories.lifecycle import acknowledge_ref, resolve_ref, run_timers
from monitor.stories.settings import StoriesSettings
from monitor.targets import TargetConfig
from monitor.tickets.incident_settings import IncidentsConfig, SpikeRule
from tests.helpers.builders import KeywordStub
from tests.helpers.context import context, settings
from tests.helpers.oncall import PRIMARY_THEN_SECONDARY, day_and_backup
from tests.helpers.receiver import Receiver, receiver

T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai: the day rotation is on
SAFETY = "充电宝在宿舍起火了，整个楼道都是烟，这个牌子的充电宝大家千万别买了"
ANALYZER = KeywordStub({"起火": ("L1", True), "投诉": ("L2", True)})
HOOKS = ("zhang", "slack-global", "wecom-group", "manager-hook")
ONCALL = {
    "people": {
        "zhang": {"name": "张伟", "targets": ["zhang"]},
        "wang": {"name": "王芳", "targets": ["wang-mail"]},
    },
    "teams": {
        "pr": {
            "timezone": "Asia/Shanghai",
            "rotations": day_and_backup(),
            "escalation": PRIMARY_THEN_SECONDARY,
            "repeat_minutes": 30,
        }
    },
}
ROUTE = {
    "receivers": [],
    "oncall": "pr",
    "group_wait": "30s",
    "group_interval": "1m",
    "routes": [
        {"name": "overseas", "match": {"source": ["reddit"]}, "receivers": ["slack-global"], "oncall": None},
        {"name": "operators", "match": {"kind": ["operator"]}, "receivers": ["manager-hook"]},
    ],
}


@dataclass
class Mailbox:
    """A real SMTP server on 127.0.0.1 that keeps every mail."""

    port: int
    mails: list[bytes] = field(default_factory=list)

    def keys(self) -> list[str]:
        return [str(message_from_bytes(m)["X-Yuqing-Idempotency-Key"]) for m in self.mails]


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Mailbox(port)

    class Capture(MessageHandler):
        def handle_message(self, message: Any) -> None:
            box.mails.append(message.as_bytes())

    controller = Controller(Capture(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def targets_and_senders(r: Receiver, box: Mailbox) -> tuple[list[TargetConfig], dict[str, Sender]]:
    """Five targets: four webhooks and one mailbox; only zhang and wang are on the route."""
    hook = sender_class("webhook")
    mail = sender_class("email")
    targets = [TargetConfig(name=n, kind="webhook") for n in HOOKS]
    targets.append(TargetConfig(name="wang-mail", kind="email"))
    senders: dict[str, Sender] = {
        n: hook(n, hook.Config.model_validate({"url": f"{r.url}/{n}"})) for n in HOOKS
    }
    senders["wang-mail"] = mail(
        "wang-mail",
        mail.Config.model_validate(
            {
                "host": "127.0.0.1",
                "port": box.port,
                "security": "none",
                "from": "y@example.com",
                "to": ["wang@example.com"],
            }
        ),
    )
    return targets, senders


def stories(targets: list[TargetConfig], **route: Any) -> StoriesSettings:
    spikes = [SpikeRule(window_minutes=10, min_count=20, priority="L1")]
    return settings(
        targets, incidents=IncidentsConfig(spikes=spikes), oncall=ONCALL, route={**ROUTE, **route}
    )


def burst() -> list[Message]:
    """60 near-identical reposts and 40 related posts (20 reposts with a comment, 20 questions
    about it that no rule flags) over two minutes, interleaved, from Weibo RSS and a chat."""
    out: list[Message] = []
    for i in range(100):
        if i % 5 in (0, 1, 3):
            text = [SAFETY, f"转发微博//@用户{i}: {SAFETY}", f"#安全# {SAFETY} http://t.cn/{i}"][i % 3]
        elif i % 5 == 2:
            text = f"太可怕了//@网友{i}:{SAFETY}"
        else:
            text = f"请问是哪个牌子的？我家也有一个，第{i}楼"
        source, channel = ("weibo-rss", "rss") if i % 2 else ("wechat-export", "chat")
        out.append(
            Message(
                source=source,
                external_id=f"{source}-{i}",
                thread_key=f"{source}-{i}",
                text=text,
                created_at=T0 + timedelta(seconds=i * 1.2),
                channel=channel,
                author=Author(f"u{i}", f"用户{i}", followers=100 + i),
                engagement=Engagement(likes=i % 5, reposts=i % 3, replies=1),
            )
        )
    return out


def feed(db: Database, stories: StoriesSettings, messages: list[Message], size: int) -> None:
    """Per source, in batches of ``size``, the clock at the newest post of each batch."""
    for start in range(0, len(messages), size):
        chunk = messages[start : start + size]
        for source, kind in (("weibo-rss", "rss"), ("wechat-export", "chat")):
            mine = tuple(m for m in chunk if m.source == source)
            if mine:
                ctx = context(db, ANALYZER, stories=stories, now=mine[-1].created_at)
                process_batch(ctx, source, kind, Batch(mine, {}))


def received(r: Receiver, box: Mailbox) -> dict[str, list[str]]:
    """Target -> the steps it received, in order."""
    out: dict[str, list[str]] = {}
    for request in r.requests:
        out.setdefault(request.path.strip("/"), []).append(request.json["step"])
    for mail in box.mails:
        key = str(message_from_bytes(mail)["X-Yuqing-Idempotency-Key"])
        out.setdefault("wang-mail", []).append(key.split(":", 2)[2].rsplit("@", 1)[0])
    return out


def test_repost_burst_pages_the_primary_once_escalates_stops_on_ack_resolves_once(
    sqlite_db: Database, smtp: Mailbox
) -> None:
    with receiver() as r:
        targets, senders = targets_and_senders(r, smtp)
        config = stories(targets)
        outbox = Outbox(sqlite_db, senders, AlertsConfig(), instance="t")
        feed(sqlite_db, config, burst(), 10)
        outbox.deliver()
        after_burst = T0 + timedelta(minutes=3)
        run_timers(sqlite_db, config, now=after_burst)  # the last folded posts: one more update
        outbox.deliver()
        with sqlite_db.read() as session:
            [incident] = session.scalars(select(Incident)).all()
            [story] = session.scalars(select(Story)).all()
            assert story.incident_id == incident.id and story.team == "pr"
            assert incident.message_count == 80  # 60 reposts + 20 commented reposts joined
            tickets = session.scalars(select(Ticket)).all()
            assert len(tickets) == 100  # one per thread; 80 in the story, 20 never alerted
            inhibited = session.scalars(select(TicketEvent).where(TicketEvent.kind == "inhibited")).all()
            assert inhibited, "tickets joining the open incident recorded why they did not page"
            paged = story.paged_at
        assert paged is not None and paged >= T0 + timedelta(seconds=30)
        got = received(r, smtp)
        assert set(got) == {"zhang"}, got  # the other four targets heard nothing
        assert got["zhang"][0] == "page:0:0" and got["zhang"].count("page:0:0") == 1
        updates = [req.json for req in r.requests if req.json["step"].startswith("update:")]
        assert got["zhang"][1:] == [u["step"] for u in updates] and 1 <= len(updates) <= 4
        page = r.requests[0].json
        assert page["kind"] == "incident" and page["recipients"] == [
            {"id": "zhang", "name": "张伟", "mention": ""}
        ]
        assert page["messages"] + sum(u["new_messages"] for u in updates) == 80, (
            "every later post is in an update"
        )

        # nobody acknowledges: the secondary (e-mail over SMTP) at 15 minutes after the page, not before
        assert run_timers(sqlite_db, config, now=paged + timedelta(minutes=14, seconds=59)).pages == 0
        outbox.deliver()
        assert smtp.mails == []
        assert run_timers(sqlite_db, config, now=paged + timedelta(minutes=15)).pages == 1
        outbox.deliver()
        assert received(r, smtp)["wang-mail"] == ["page:1:0"]

        # the primary acknowledges with the code of one reposted ticket: every step stops for everyone
        code = tickets[0].code
        acked = acknowledge_ref(
            sqlite_db,
            str(code),
            config,
            actor="zhang",
            now=paged + timedelta(minutes=16),
            note="联系厂家中 contacting the maker",
        )
        assert (acked.code, acked.changed, acked.notices) == (incident.code, True, 2)
        for minutes in (30, 45, 60, 120):
            assert run_timers(sqlite_db, config, now=paged + timedelta(minutes=minutes)).pages == 0
        resolved = resolve_ref(
            sqlite_db, str(incident.code), config, actor="zhang", now=paged + timedelta(hours=3)
        )
        assert resolved.notices == 2
        outbox.deliver()
        got = received(r, smtp)
        assert got["zhang"][-2:] == ["acknowledged", "resolved"] and got["zhang"].count("resolved") == 1
        assert got["wang-mail"] == ["page:1:0", "acknowledged", "resolved"]
        assert set(got) == {"zhang", "wang-mail"}
        with sqlite_db.read() as session:
            statuses = set(session.scalars(select(Ticket.status).where(Ticket.id.in_(members.ticket_ids(session, story.id)))))
            assert statuses == {"resolved"}, "resolving the story resolved its tickets"
            rows = session.execute(select(Alert.dedupe_key, Alert.target)).all()
        assert len(rows) == len(set(rows)) == len(r.requests) + len(smtp.mails), "each notice once per target"


@pytest.mark.parametrize(
    ("texts", "pages"),
    [
        ([SAFETY, f"转发//@a: {SAFETY}", f"{SAFETY}!!", f"#安全# {SAFETY}"], 1),
        ([SAFETY, "投诉：快递员把包裹扔在门口被偷了", f"转发//@b: {SAFETY}", "投诉：外卖里吃出了头发"], 3),
    ],
    ids=["four-near-identical-one-page", "two-stories-and-a-repost-three-pages"],
)
def test_near_identical_safety_posts_page_once(sqlite_db: Database, texts: list[str], pages: int) -> None:
    targets = [TargetConfig(name="pager", kind="console")]
    config = settings(targets, route={"receivers": ["pager"], "group_wait": 0})
    for i, text in enumerate(texts):  # one post per batch, seconds apart: grouping is not per batch
        message = Message(
            source="weibo",
            external_id=f"p{i}",
            thread_key=f"p{i}",
            text=text,
            created_at=T0 + timedelta(seconds=i * 20),
            channel="rss",
        )
        process_batch(
            context(sqlite_db, ANALYZER, stories=config, now=message.created_at),
            "weibo",
            "rss",
            Batch((message,), {}),
        )
    with sqlite_db.read() as session:
        steps = session.scalars(select(Alert.step).where(Alert.step.like("page:%"))).all()
        assert len(steps) == pages
        assert session.scalar(select(Story.message_count).order_by(Story.id).limit(1)) == (
            4 if pages == 1 else 2
        )
