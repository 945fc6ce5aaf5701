"""Fuzzing every parser with mutated real samples: only classified errors may escape.

Hypothesis mutates real inputs - the shared mail, chat, Reddit and X samples and the feed fixtures
- by flipping, cutting, inserting, duplicating and nesting bytes (or, for API records, replacing
values with values of any JSON type), then drives the connector that reads them. A connector may
quarantine the input or raise a :class:`~monitor.errors.YuqingError` about the source; anything
else escaping (``TypeError``, ``RecursionError``, ``OSError`` ...) is a failed example. Example
counts are bounded so that the whole module stays well under a minute in CI.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from connectors.chat_export import ChatExportConfig, ChatExportConnector
from connectors.files import FilesConfig, FilesConnector
from connectors.mail.parse import parse_mail
from connectors.mbox import MboxConfig, MboxConnector
from connectors.reddit import RedditConfig, RedditConnector
from connectors.rss import RssConfig, RssConnector, _Fetched
from connectors.twitter import TwitterConfig, TwitterConnector
from monitor.errors import YuqingError
from monitor.message import Message, Quarantined
from tests.shared_data import SHARED_DATA

FIXTURES = Path(__file__).parent / "fixtures"
@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[None]:
    """Log events are captured, not rendered: structlog's default test renderer would format a
    rich traceback with every local (the mutated input) for each quarantined record."""
    with capture_logs():
        yield


FUZZ = settings(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def samples(folder: Path, pattern: str = "*", limit: int = 40, max_bytes: int = 200_000) -> list[bytes]:
    found = [p.read_bytes() for p in sorted(folder.rglob(pattern)) if p.is_file()]
    return [raw[:max_bytes] for raw in found][:limit]


MAILS = samples(SHARED_DATA / "email")
TELEGRAM = [
    *samples(SHARED_DATA / "chat" / "telegram", "*.json", max_bytes=20_000),
    json.dumps({"name": "群", "id": 7, "messages": [
        {"id": 1, "type": "message", "date_unixtime": "1709546400", "from": "客户", "from_id": "user1",
         "text": ["退款", {"type": "bold", "text": "紧急"}]}]}, ensure_ascii=False).encode()
]
WHATSAPP = samples(SHARED_DATA / "chat" / "whatsapp", "*.txt")
WECHAT = [
    ("localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender\n"
     "1,wx,1,0,0,1709546400,2,你好 退款,2024-03-04 10:00:00,客户,客户,wx\n"
     "2,wx,3,0,1,1709546460,2,<img/>,,客户,客户,me\n").encode(),
    "2024-03-04 10:00:00 客户\n你好，我要退款\n\n2024-03-04 10:01:00 客服\n好的\n\n".encode(),
]
FEEDS = samples(FIXTURES / "feeds")
RECORDS = [
    b'{"id": "1", "text": "\xe9\x80\x80\xe6\xac\xbe", "thread": "t", "created_at": "2024-03-04T10:00:00Z"}\n'
    b'{"id": 2, "text": "b", "author": "u", "likes": 3, "created_at": 1709546400}\n',
    "id,text,thread,created_at\n1,退款,t,2024/3/4 17:19\n2,\"多\n行\",t,3分钟前\n".encode(),
]


def _cassette_items(path: str, pick: Callable[[Any], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    from tests.connectors.replay import load_cassette

    items: list[dict[str, Any]] = []
    for interaction in load_cassette(path):
        try:
            items += pick(interaction.json())
        except (ValueError, KeyError, TypeError):
            continue
    return items[:30]


REDDIT_ITEMS = _cassette_items("reddit/TestSubredditListings.test_new.json",
                               lambda body: [c["data"] for c in body["data"]["children"]])
TWEETS = _cassette_items("twitter/v2/test_client_search_recent_tweets.yaml", lambda body: body["data"])


@st.composite
def mutated(draw: st.DrawFn, corpus: list[bytes]) -> bytes:
    """A real sample with a few byte-level mutations."""
    data = bytearray(draw(st.sampled_from(corpus)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "duplicate", "nest", "bom", "nul", "delete"]))
        at = draw(st.integers(0, len(data)))
        if kind == "flip" and data:
            index = min(at, len(data) - 1)
            data[index] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "duplicate":
            end = min(len(data), at + draw(st.integers(1, 400)))
            data[at:at] = data[at:end] * draw(st.integers(1, 3))
        elif kind == "nest":
            depth = draw(st.sampled_from([50, 999, 3000]))
            data[at:at] = b"[" * depth + b"]" * depth
        elif kind == "bom":
            data[0:0] = b"\xef\xbb\xbf"
        elif kind == "nul":
            data[at:at] = b"\x00"
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


def drain_safely(connector: Any) -> list[Message | Quarantined]:
    """Every item of a full read; a classified error about the source is an allowed outcome."""
    items: list[Message | Quarantined] = []
    try:
        for batch in connector.fetch(None, batch_size=50):
            items += [*batch.messages, *batch.quarantined]
    except YuqingError:
        pass
    return items


def in_folder(name: str, raw: bytes, read: Callable[[Path], Any]) -> Any:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / name).write_bytes(raw)
        return read(root)


@FUZZ
@given(raw=mutated(MAILS))
def test_mail_parser_raises_only_bad_input(raw: bytes) -> None:
    try:
        parsed = parse_mail(raw, source="s", received_at=datetime(2024, 3, 4, tzinfo=UTC))
    except YuqingError:
        return
    assert parsed.message.created_at.tzinfo is not None
    assert all(a.size >= 0 for a in parsed.attachments)


@FUZZ
@given(raw=mutated(MAILS))
def test_mbox_connector(raw: bytes) -> None:
    mbox = b"From a@example.com Mon Mar  4 10:00:00 2024\n" + raw + b"\nFrom b@example.com Mon Mar  4 10:00:01 2024\n" + raw

    def read(root: Path) -> Any:
        return drain_safely(MboxConnector("m", MboxConfig(path=root / "x.mbox", settle_seconds=0)))

    assert all(isinstance(i, Message | Quarantined) for i in in_folder("x.mbox", mbox, read))


@FUZZ
@given(raw=mutated(RECORDS), name=st.sampled_from(["a.jsonl", "a.csv", "a.txt", "a.dat"]))
def test_files_connector(raw: bytes, name: str) -> None:
    def read(root: Path) -> Any:
        return drain_safely(FilesConnector("f", FilesConfig.model_validate({"path": root, "settle_seconds": 0})))

    in_folder(name, raw, read)


CHAT_CORPORA = {
    "result.json": TELEGRAM,
    "WhatsApp Chat with A.txt": WHATSAPP,
    "A_utf8.csv": WECHAT[:1],
    "A.txt": WECHAT[1:],
}


@FUZZ
@given(data=st.data(), name=st.sampled_from(sorted(CHAT_CORPORA)))
def test_chat_export_connector(data: st.DataObject, name: str) -> None:
    raw = data.draw(mutated(CHAT_CORPORA[name]))
    in_folder(name, raw, lambda root: drain_safely(ChatExportConnector("c", ChatExportConfig(path=root))))


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(raw=mutated(samples(SHARED_DATA / "chat" / "slack", "*.zip")))
def test_slack_export_connector(raw: bytes) -> None:
    in_folder("export.zip", raw, lambda root: drain_safely(ChatExportConnector("c", ChatExportConfig(path=root))))


@FUZZ
@given(raw=mutated(FEEDS))
def test_rss_parser(raw: bytes) -> None:
    connector = RssConnector("r", RssConfig.model_validate({"feeds": ["http://127.0.0.1:9/feed"]}))
    try:
        for _, batch in connector._batches("http://127.0.0.1:9/feed", {}, _Fetched(200, raw, {}), 50):
            assert all(isinstance(m, Message) for m in batch.messages)
    except YuqingError:
        pass


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def mutated_record(draw: st.DrawFn, corpus: list[dict[str, Any]]) -> dict[str, Any]:
    record = dict(draw(st.sampled_from(corpus)))
    for key in draw(st.lists(st.sampled_from(sorted(record)), max_size=4)):
        record[key] = draw(JSON_VALUES)
    return record


@FUZZ
@given(record=mutated_record(REDDIT_ITEMS))
def test_reddit_records(record: dict[str, Any]) -> None:
    connector = RedditConnector("r", RedditConfig.model_validate({"subreddits": ["all"]}))
    record.setdefault("name", "t3_x")
    assert isinstance(connector._guarded("new:all", record), Message | Quarantined)


@FUZZ
@given(record=mutated_record(TWEETS))
def test_twitter_records(record: dict[str, Any]) -> None:
    connector = TwitterConnector("x", TwitterConfig.model_validate({"searches": ["q"]}))
    assert isinstance(connector._guarded("search:q", record, {}), Message | Quarantined)
