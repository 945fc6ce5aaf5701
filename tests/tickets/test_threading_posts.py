"""Posts from flat records (JSONL/CSV files): reposts, replies and quotes find the original's
thread; a repost chain is one thread even when its original was never stored (issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from connectors.records import FieldMap, record_to_message
from monitor.message import Batch
from monitor.pipeline import process_batch
from monitor.storage.db import Database
from monitor.storage.models import StoredMessage
from tests.helpers.builders import KeywordStub
from tests.helpers.context import context

NOW = datetime(2024, 6, 10, 8, 0, tzinfo=UTC)


def messages(records: list[dict[str, Any]]) -> Batch:
    return Batch(tuple(
        record_to_message(r, FieldMap(), source="weibo", channel="weibo", zone=ZoneInfo("Asia/Shanghai"),
                          raw_ref=f"posts.jsonl:{i}", default_time=NOW)
        for i, r in enumerate(records)
    ), {})


def tickets(db: Database, *batches: Batch) -> dict[str, int]:
    for batch in batches:
        process_batch(context(db, KeywordStub({}), []), "weibo", "files", batch)
    with db.read() as session:
        rows = session.execute(select(StoredMessage.external_id, StoredMessage.ticket_id))
        return {external_id: ticket_id for external_id, ticket_id in rows}


CHAIN = [
    {"id": "r1", "author": "a", "text": "转发微博//@小王:热水器用了三天就漏水"},
    {"id": "r2", "author": "b", "text": "同感！//@c: 太坑了 //@小王: 热水器用了三天就漏水 "},
    {"id": "r3", "author": "d", "text": "//@小王：热水器用了三天就漏水"},
    {"id": "other", "author": "e", "text": "转发//@小李:空调不制冷"},
    {"id": "plain", "author": "f", "text": "今天天气不错"},
]


@pytest.mark.parametrize("split", [False, True], ids=["one-batch", "one-post-per-batch"])
def test_a_repost_chain_is_one_thread(any_db: Database, split: bool) -> None:
    batches = [messages([r]) for r in CHAIN] if split else [messages(CHAIN)]
    found = tickets(any_db, *batches)
    assert found["r1"] == found["r2"] == found["r3"]
    assert len({found["r1"], found["other"], found["plain"]}) == 3


@pytest.mark.parametrize(
    "record",
    [
        {"id": "p2", "author": "b", "text": "我也是", "reply_to": "p1"},
        {"id": "p2", "author": "b", "text": "我也是", "reply_to": ["gone", "p1"]},
        {"id": "p2", "author": "b", "text": "看 https://x.com/w/status/999 和这个"},
    ],
    ids=["reply-to-id", "reply-to-list-with-unknown", "quoted-tweet-link"],
)
def test_a_post_naming_a_stored_post_joins_its_ticket(sqlite_db: Database, record: dict[str, Any]) -> None:
    originals = messages([{"id": "p1", "author": "a", "text": "原帖"},
                          {"id": "twitter:999", "author": "z", "text": "推文"}])
    found = tickets(sqlite_db, originals, messages([record]))
    joined = "twitter:999" if "x.com" in record["text"] else "p1"
    assert found["p2"] == found[joined]
    assert len(set(found.values())) == 2


def test_a_copy_of_the_quoted_words_by_someone_else_does_not_join_the_chain(sqlite_db: Database) -> None:
    """Copy-paste posts of the same complaint are separate threads; only the quoted author's own
    post, stored after the reposts, joins them."""
    words = "热水器用了三天就漏水，客服电话打不通"
    reposts = messages([{"id": "r1", "author": "a", "text": f"转发微博//@小王:{words}"},
                        {"id": "r2", "author": "b", "text": f"太坑了//@小王:{words}"}])
    later = messages([{"id": "copy", "author": "路人", "text": words},
                      {"id": "own", "author": "小王", "text": words}])
    found = tickets(sqlite_db, reposts, later)
    assert found["r1"] == found["r2"] == found["own"]
    assert found["copy"] != found["own"]
