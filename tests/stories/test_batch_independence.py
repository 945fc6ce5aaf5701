"""The same posts cut into batches of 1, 25 and 500 open the same incidents and send the same
pages: spike and heat decisions follow the posts' timestamps, not the batch boundaries."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from monitor.message import Author, Batch, Engagement, Message
from monitor.pipeline import process_batch
from monitor.storage.db import Database
from monitor.storage.models import Alert, Incident, Story
from monitor.stories.lifecycle import run_timers
from monitor.stories.settings import StoriesSettings
from monitor.targets import TargetConfig
from monitor.tickets.incident_settings import HeatConfig, IncidentsConfig, SpikeRule
from tests.helpers.builders import KeywordStub
from tests.helpers.context import context, settings

T0 = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
ANALYZER = KeywordStub({"起火": ("L1", True), "投诉": ("L2", True), "退款": ("L3", False)})
STORIES = [
    "充电宝在宿舍起火了，整个楼道都是烟，这个牌子的充电宝大家千万别买了",
    "我要投诉这家外卖店，饭里吃出了头发，打客服电话三次没人管",
    "新品什么时候上市啊，等了好久了，有没有人知道具体时间",  # ordinary: no rule fires
    "申请退款七天了还没到账，客服说在处理，到底要等多久",
]
NOISE = ["今天天气不错", "物流挺快的，点赞", "包装有点破损但东西没问题", "客服态度很好", "价格有点贵"]


def posts() -> list[Message]:
    """~600 posts over 40 minutes: three bursts at different times, a slow story and noise."""
    rng = random.Random(11)
    out: list[Message] = []
    bursts = [(0, 0.0, 150, 6.0), (1, 5.0, 60, 8.0), (2, 10.0, 40, 15.0), (3, 0.0, 50, 45.0)]
    for story, start, count, spacing in bursts:
        for i in range(count):
            text = rng.choice(["{s}", "转发微博//@用户{i}: {s}", "#关注# {s} http://t.cn/{i}"]).format(
                s=STORIES[story], i=i
            )
            out.append(_post(f"s{story}-{i}", text, start * 60 + i * spacing, likes=rng.randrange(0, 50)))
    for i in range(300):
        out.append(_post(f"n{i}", f"{rng.choice(NOISE)} {i}", i * 8.0, likes=rng.randrange(0, 5)))
    return sorted(out, key=lambda m: (m.created_at, m.external_id))


def _post(key: str, text: str, seconds: float, *, likes: int) -> Message:
    return Message(
        source="weibo",
        external_id=key,
        thread_key=key,
        text=text,
        channel="rss",
        created_at=T0 + timedelta(seconds=seconds),
        author=Author(key, key, followers=1000),
        engagement=Engagement(likes=likes, reposts=likes // 3, replies=1),
    )


def config() -> StoriesSettings:
    incidents = IncidentsConfig(
        spikes=[
            SpikeRule(min_count=20, window_minutes=10, priority="L2"),
            SpikeRule(min_count=60, window_minutes=10, priority="L1"),
        ],
        heat=HeatConfig(thresholds={"L2": 3_000}),
    )
    route = {
        "receivers": ["pager"],
        "group_wait": "30s",
        "group_interval": "10m",
        "routes": [{"match": {"priority": ["L1"]}, "receivers": ["pager", "urgent"]}],
    }
    targets = [TargetConfig(name="pager", kind="console"), TargetConfig(name="urgent", kind="console")]
    return settings(targets, incidents=incidents, route=route)


def run(tmp_path: Path, size: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    db = Database(f"sqlite:///{tmp_path / f'batch-{size}.db'}")
    db.upgrade()
    stories = config()
    caught_up = T0 + timedelta(hours=1)  # a backlog read in one go: the clock stands still
    messages = posts()
    try:
        for start in range(0, len(messages), size):
            ctx = context(db, ANALYZER, stories=stories, now=caught_up)
            process_batch(ctx, "weibo", "rss", Batch(tuple(messages[start : start + size]), {}))
        run_timers(db, stories, now=caught_up + timedelta(seconds=30))
        with db.read() as session:
            incidents = [
                (i.code, i.severity, i.title, i.message_count, round(i.heat, 3), i.first_seen, i.last_seen)
                for i in session.scalars(select(Incident).order_by(Incident.id))
            ]
            codes = {s.id: s for s in session.scalars(select(Story))}
            pages = sorted(
                (a.target, a.kind, a.step, a.priority, a.payload.get("story"), a.payload.get("messages"))
                for a in session.scalars(select(Alert))
            )
            assert codes  # stories exist
        return incidents, pages
    finally:
        db.dispose()


def test_batches_of_1_25_and_500_open_the_same_incidents_and_pages(tmp_path: Path) -> None:
    results = {size: run(tmp_path, size) for size in (500, 25, 1)}
    incidents, pages = results[500]
    # the fire (150 posts) and the hair-in-food complaint (60 in 8 min) spike to L1; the slow
    # refund story crosses the heat bar (L2); the ordinary product question fires no rule
    assert [(i[0], i[1], i[3]) for i in incidents] == [
        ("INC-1", "L1", 150),
        ("INC-2", "L1", 60),
        ("INC-3", "L2", 50),
    ]
    assert not any("新品" in i[2] for i in incidents)
    assert ("urgent", "incident", "page:0:0", "L1", "INC-1", 150) in pages
    for size in (25, 1):
        assert results[size][0] == incidents, f"batches of {size}: incidents differ"
        assert results[size][1] == pages, f"batches of {size}: pages differ"
