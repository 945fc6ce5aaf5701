"""Fingerprints, clustering, spike/heat rules, severity rising, auto-resolve, review queue, silences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from monitor.findings import Analysis, Finding
from monitor.message import Author, Batch, Message
from monitor.pipeline import decide_review, process_batch
from monitor.storage.db import Database
from monitor.storage.models import Alert, Incident, IncidentEvent, StoredMessage, Ticket
from monitor.stories.lifecycle import run_timers as run_escalation
from monitor.stories.settings import StoriesSettings
from monitor.stories.silences import add_silence
from monitor.targets import TargetConfig
from monitor.tickets.clusters import ClusterIndex
from monitor.tickets.fingerprint import features, fingerprint, jaccard, strip_noise
from monitor.tickets.incident_settings import HeatConfig, IncidentsConfig, SpikeRule
from tests.helpers.builders import KeywordStub
from tests.helpers.context import context, settings

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
STORY = "快递员把我的包裹扔在门口被偷了，客服说不归他们管，我要投诉到底"
ANALYZER = KeywordStub({"投诉": ("L2", True)})
TARGETS = (TargetConfig(name="pager", kind="console"),)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("转发微博//@张三: 太差了", "太差了"),
        ("我也是//@李四:同样遭遇//@王五: 原帖", "我也是 同样遭遇 原帖"),
        ("RT @bob: late again https://t.co/x #fail", "late again"),
        ("@客服小美 #外卖安全# 吃出头发 www.example.com/a", "吃出头发"),
    ],
    ids=["weibo-repost", "repost-chain", "retweet", "mention-hashtag-url"],
)
def test_strip_noise(text: str, expected: str) -> None:
    assert " ".join(strip_noise(text).split()) == expected


@pytest.mark.parametrize(
    ("other", "same"),
    [
        (f"转发微博//@甲: {STORY}", True),
        (f"气死了//@乙:{STORY} #快递# http://t.cn/1", True),
        ("快遞員把我的包裹扔在門口被偷了，客服說不歸他們管，我要投訴到底", True),
        ("今天天气很好，适合出去散步，公园里人很多", False),
        ("快递员态度很好，包裹准时送到，点赞", False),
    ],
    ids=["repost", "comment-chain", "traditional", "unrelated", "same-topic-different-story"],
)
def test_near_duplicates_join_one_cluster(other: str, same: bool) -> None:
    index = ClusterIndex(0.6)
    first, _ = index.assign(fingerprint(STORY))
    second, created = index.assign(fingerprint(other))
    assert (second.index == first.index) is same
    assert created is not same


def test_sketch_similarity_tracks_jaccard() -> None:
    a, b = f"{STORY}，三天了", f"{STORY}，还没有人理"
    estimate = fingerprint(a).similarity(fingerprint(b).sketch)
    assert abs(estimate - jaccard(features(a), features(b))) < 0.15


def post(
    i: int, *, text: str = STORY, minutes: float = 0.0, followers: int = 10, source: str = "weibo"
) -> Message:
    return Message(
        source=source,
        external_id=f"{source}-{i}-{minutes}",
        thread_key=f"{source}-{i}-{minutes}",
        text=text,
        created_at=T0 + timedelta(minutes=minutes),
        channel="rss",
        author=Author(f"u{i}", "x", followers),
    )


def feed(db: Database, messages: list[Message], paging: StoriesSettings, analyzer: object = ANALYZER) -> None:
    by_source: dict[str, list[Message]] = {}
    for m in messages:
        by_source.setdefault(m.source, []).append(m)
    for source, items in by_source.items():
        now = max(m.created_at for m in items)
        process_batch(context(db, analyzer, stories=paging, now=now), source, "rss", Batch(tuple(items), {}))  # type: ignore[arg-type]


def incidents(db: Database) -> list[Incident]:
    with db.read() as session:
        return list(session.scalars(select(Incident).order_by(Incident.id)))


def paging(**changes: object) -> StoriesSettings:
    return settings(TARGETS, incidents=IncidentsConfig(**changes))  # type: ignore[arg-type]


def test_below_min_count_no_incident_then_spike_opens_one(any_db: Database) -> None:
    p = paging(spikes=[SpikeRule(min_count=10, window_minutes=10, priority="L2")])
    feed(any_db, [post(i, minutes=i * 0.5) for i in range(9)], p)
    assert incidents(any_db) == []
    feed(any_db, [post(9, minutes=5)], p)
    [incident] = incidents(any_db)
    assert (incident.code, incident.severity, incident.message_count) == ("INC-1", "L2", 10)
    with any_db.read() as session:
        assert session.scalars(select(Alert.step)).all() == ["page:0:0"]


def test_a_steady_story_does_not_spike_against_its_own_baseline(sqlite_db: Database) -> None:
    p = paging(spikes=[SpikeRule(min_count=5, window_minutes=10, baseline_factor=3, baseline_hours=2)])
    # 6 posts in every 10 minutes for two hours, all without a rule firing
    quiet = KeywordStub({})
    feed(sqlite_db, [post(i, minutes=i * 10 / 6) for i in range(72)], p, quiet)
    feed(sqlite_db, [post(100 + i, minutes=120 + i) for i in range(6)], p)
    assert incidents(sqlite_db) == [], "6 per window is the baseline, not a spike"
    feed(sqlite_db, [post(200 + i, minutes=126 + i * 0.1) for i in range(20)], p)
    assert len(incidents(sqlite_db)) == 1


def test_heat_alone_opens_an_incident_and_severity_rises(sqlite_db: Database) -> None:
    p = paging(
        spikes=[SpikeRule(min_count=50, priority="L1")],
        heat=HeatConfig(thresholds={"L1": 50_000, "L2": 10_000}),
    )
    feed(sqlite_db, [post(1, followers=1_200_000)], p)
    [incident] = incidents(sqlite_db)
    assert (incident.severity, incident.reason) == ("L2", "heat 12000")
    feed(sqlite_db, [post(2, followers=4_000_000, minutes=1)], p)
    [incident] = incidents(sqlite_db)
    assert incident.severity == "L1"
    with sqlite_db.read() as session:
        assert session.scalars(select(Alert.step).order_by(Alert.id)).all() == ["page:0:0", "raise:L1"]
        kinds = session.scalars(select(IncidentEvent.kind).order_by(IncidentEvent.id)).all()
    assert kinds == ["opened", "severity"]


def test_quiet_incident_auto_resolves_and_a_new_wave_opens_a_new_incident(sqlite_db: Database) -> None:
    p = paging(spikes=[SpikeRule(min_count=3)], quiet_minutes=60)
    feed(sqlite_db, [post(i, minutes=i) for i in range(3)], p)
    stats = run_escalation(sqlite_db, p, now=T0 + timedelta(minutes=70))
    assert stats.auto_resolved == 1
    assert [i.state for i in incidents(sqlite_db)] == ["resolved"]
    feed(sqlite_db, [post(10 + i, minutes=200 + i) for i in range(3)], p)
    assert [i.state for i in incidents(sqlite_db)] == ["resolved", "open"]


def test_silenced_incident_is_recorded_but_pages_nobody(sqlite_db: Database) -> None:
    p = paging(spikes=[SpikeRule(min_count=3)])
    with sqlite_db.transaction() as session:
        add_silence(
            session,
            "rule",
            "kw.投诉",
            expires_at=T0 + timedelta(days=1),
            reason="known",
            created_by="t",
            now=T0,
        )
    feed(sqlite_db, [post(i, minutes=i) for i in range(3)], p)
    assert len(incidents(sqlite_db)) == 1
    with sqlite_db.read() as session:
        assert session.scalars(select(Alert)).all() == []
        assert "silenced" in session.scalars(select(IncidentEvent.kind)).all()


class ReviewStub:
    def __call__(self, message: Message) -> Analysis:
        return (
            Analysis((Finding("threat", "L1", True, review=True),))
            if "炸" in message.text
            else ANALYZER(message)
        )


def test_review_queue_holds_messages_until_approved(sqlite_db: Database) -> None:
    p = paging()
    targets = [TargetConfig(name="pager", kind="console")]
    ctx = context(sqlite_db, ReviewStub(), targets, stories=p, now=T0)
    process_batch(ctx, "src", "rss", Batch((post(1, text="我要炸了你们的店"),), {}))
    with sqlite_db.read() as session:
        row = session.scalars(select(StoredMessage)).one()
        assert (row.review_status, row.ticket_id) == ("pending", None)
        assert session.scalars(select(Ticket)).all() == []
        assert session.scalars(select(Alert.kind)).all() == ["review"]  # held L1: the review route is told
    assert decide_review(ctx, row.id, approve=True) == "approved"
    with sqlite_db.read() as session:
        assert session.scalars(select(Ticket.priority)).all() == ["L1"]
        assert [a.kind for a in session.scalars(select(Alert).order_by(Alert.id))] == ["review", "ticket"]
    with pytest.raises(LookupError):
        decide_review(ctx, row.id, approve=False)


def test_window_counts_of_a_batch_match_one_count_per_window(any_db: Database) -> None:
    """The batched spike counts (UNION ALL, 200 windows per statement) count like one query each:
    start exclusive, end inclusive, per cluster."""
    from sqlalchemy import func

    from monitor.tickets.spikes import window_counts

    feed(any_db, [post(i, minutes=i) for i in range(30)], paging())
    with any_db.read() as session:
        clusters = sorted(set(session.scalars(select(StoredMessage.cluster_id)).all()))
        windows = [
            (cluster, T0 + timedelta(minutes=a), T0 + timedelta(minutes=a + width))
            for cluster in [*clusters, 999]
            for a in range(-2, 31)
            for width in (0, 1, 5, 40)
        ]
        assert len(windows) > 200  # more than one statement
        counts = window_counts(session, windows)
        for cluster, start, end in windows:
            expected = session.scalar(
                select(func.count()).where(
                    StoredMessage.cluster_id == cluster,
                    StoredMessage.created_at > start,
                    StoredMessage.created_at <= end,
                )
            )
            assert counts[(cluster, start, end)] == expected, (cluster, start, end)


def test_cluster_index_remembering_fingerprints_assigns_like_a_full_scan() -> None:
    """Repeated posts reuse their earlier comparison and only compare clusters added since."""
    import random

    rng = random.Random(7)
    stories = ["".join(rng.choice("快递包裹客服投诉外卖退款骑手商家") for _ in range(16)) for _ in range(40)]
    posts = [fingerprint(rng.choice(stories) + rng.choice(["", "转发", "同样遭遇"])) for _ in range(600)]
    index = ClusterIndex(0.6)
    reference: list[tuple[tuple[int, ...], set[int]]] = []  # first sketch and LSH keys per cluster
    for fp in posts:
        scores = [
            (fp.similarity(sketch), -n)
            for n, (sketch, keys) in enumerate(reference)
            if keys & set(fp.keys)  # a candidate: shares a band key
        ]
        best = max((s for s in scores if s[0] >= 0.6), default=None)
        ref, created = index.assign(fp)
        if best is None:
            assert created and ref.index == len(reference)
            reference.append((fp.sketch, set(fp.keys)))
        else:
            assert not created and ref.index == -best[1]
