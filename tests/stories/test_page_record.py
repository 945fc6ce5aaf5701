"""A page composed in the batch that stored its message (the analysis record kept from the insert,
not read back) is the page composed later from the stored row: same rules, keywords, excerpt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from monitor.message import Author, Batch, Message
from monitor.pipeline import process_batch
from monitor.storage.db import Database
from monitor.storage.models import Alert, Story
from monitor.stories.compose import page_notice
from monitor.stories.settings import StoriesSettings
from monitor.targets import TargetConfig
from tests.helpers.builders import KeywordStub
from tests.helpers.context import context, settings

T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
ANALYZER = KeywordStub({"起火": ("L1", True), "投诉": ("L2", True), "退款": ("L3", False)})


def _message(key: str, thread: str, text: str, at: datetime) -> Message:
    return Message(
        source="app", external_id=key, thread_key=thread, text=text, created_at=at, channel="feedback",
        author=Author(f"u-{key}", f"用户{key}"),
    )


def _stories() -> StoriesSettings:
    # L1 pages at once; the rest waits 30 s for its group
    route = {
        "receivers": ["pager"],
        "group_wait": "30s",
        "routes": [{"match": {"priority": ["L1"]}, "receivers": ["pager"], "group_wait": "0s"}],
    }
    return settings([TargetConfig(name="pager", kind="console")], route=route)


def test_pages_of_this_batch_and_of_an_earlier_one_read_like_the_stored_rows(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'pages.db'}")
    db.upgrade()
    stories = _stories()
    try:
        # batch 1: an L2 complaint opens a story that waits for its group (no page yet)
        first = _message("a", "t1", "我要投诉：申请退款七天了还没到账，客服一直说在处理", T0)
        process_batch(context(db, ANALYZER, stories=stories, now=T0), "app", "feedback", Batch((first,), {}))
        # batch 2, after group_wait: a reply grows that story (its page is due: the message that
        # opened it was stored by batch 1) and a fire opens an L1 story paged at once (its message
        # stored by this batch)
        later = T0 + timedelta(minutes=1)
        batch = (
            _message("b", "t1", "还是没有退款，再投诉一次", later),
            _message("c", "t2", "充电宝在宿舍起火了，整个楼道都是烟", later),
        )
        process_batch(context(db, ANALYZER, stories=stories, now=later), "app", "feedback", Batch(batch, {}))
        with db.read() as session:
            alerts = list(session.scalars(select(Alert).where(Alert.step == "page:0:0").order_by(Alert.id)))
            assert [(a.payload["excerpt"][:6], a.payload["keywords"]) for a in alerts] == [
                ("我要投诉：申", ["投诉", "退款"]),
                ("充电宝在宿舍", ["起火"]),
            ]
            assert [a.payload["rules"] for a in alerts] == [["kw.投诉"], ["kw.起火"]]
            for alert in alerts:  # composed again from the stored rows, in a session of its own
                story = session.get(Story, alert.story_id)
                assert story is not None
                again = page_notice(session, story, "page:0:0", [], stories.incidents.top_messages)
                assert again.model_dump(mode="json") == alert.payload
    finally:
        db.dispose()
