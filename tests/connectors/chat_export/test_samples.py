"""Every real export sample in ../shared/data/chat imports, with the fields it must have."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.connectors.chat_export.chatgen import chat_of
from tests.connectors.chat_export.conftest import CHAT_SAMPLES, make, run

SHANGHAI = ZoneInfo("Asia/Shanghai")

# sample -> messages it holds (system lines, service entries and channel joins excluded)
EXPECTED = {
    "telegram/chat-miner/test_single_export.json": 2,
    "telegram/chat-miner/test_batch_export.json": 2,
    "telegram/chat-analytics/DM_2A_7M.json": 6,
    "telegram/chat-analytics/BIG_20A_5475M.json": 5475,
    "whatsapp/chat-miner/test_ddmmyy_24hrs.txt": 7,
    "whatsapp/chat-miner/test_mmddyy_24hrs.txt": 7,
    "whatsapp/chat-miner/test_[mmddyy]_24hrs.txt": 7,
    "whatsapp/chat-miner/test_mmddyyyy_12hrs.txt": 7,
    "whatsapp/chat-miner/test_yyyymmdd_24hrs.txt": 7,
    "whatsapp/whatstk/pokemon.txt": 18,
    "whatsapp/whatstk/lorem.txt": 500,
    "whatsapp/chat-analytics/2A_5M.txt": 5,
    "whatsapp/chat-analytics/4A_11M.txt": 11,
    "whatsapp/chat-analytics/4A_11M.zip": 11,
    "slack/slack-export-viewer/testarchive.zip": 147,
}


@pytest.fixture(scope="module")
def everything() -> tuple[list, list, dict]:  # type: ignore[type-arg]
    messages, quarantined, checkpoint = run(make(CHAT_SAMPLES))
    assert checkpoint is not None
    return messages, quarantined, checkpoint


def _file(raw_ref: str) -> str:
    return raw_ref.rsplit("@", 1)[0].split("!", 1)[0]


def test_every_sample_imports_with_its_message_count(everything: tuple[list, list, dict]) -> None:  # type: ignore[type-arg]
    messages, quarantined, checkpoint = everything
    counts = Counter(_file(m.raw_ref) for m in messages)
    assert dict(counts) == EXPECTED
    assert quarantined == []
    # the only file that is not a chat export is recognised as such and left alone
    unknown = [k for k, v in checkpoint["files"].items() if v["format"] is None]
    assert unknown == ["whatsapp/whatstk/header_format_support.json"]


def _of(messages: list, name: str) -> list:  # type: ignore[type-arg]
    return [m for m in messages if _file(m.raw_ref) == name]


@pytest.mark.parametrize(
    "name",
    [
        "whatsapp/chat-miner/test_ddmmyy_24hrs.txt",
        "whatsapp/chat-miner/test_mmddyy_24hrs.txt",
        "whatsapp/chat-miner/test_[mmddyy]_24hrs.txt",
        "whatsapp/chat-miner/test_mmddyyyy_12hrs.txt",
        "whatsapp/chat-miner/test_yyyymmdd_24hrs.txt",
    ],
    ids=["dmy", "mdy", "ios-bracket", "12h-spanish", "ymd"],
)
def test_whatsapp_locale_layouts_read_the_same_chat(everything: tuple[list, list, dict], name: str) -> None:  # type: ignore[type-arg]
    got = _of(everything[0], name)
    assert [(m.created_at.replace(tzinfo=None), m.author.display_name) for m in got] == [
        (datetime(2019, 1, 1, 11, 25), "John Doe"),
        (datetime(2019, 1, 20, 11, 23), "John Doe"),
        (datetime(2019, 1, 30, 20, 49), "Jahn Doe"),
        (datetime(2020, 6, 10, 15, 55), "John-John Doe"),
        (datetime(2021, 12, 10, 10, 10), "John Doe 🤓"),
        (datetime(2021, 12, 20, 12, 10), "🤓"),
        (datetime(2021, 12, 30, 22, 1), "John Doe"),
    ]
    assert got[1].text == "."
    assert got[2].text == "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero."
    assert got[3].text == "Lorem ipsum : dolor sit amet."
    assert all(m.created_at.tzinfo == SHANGHAI for m in got)
    assert {chat_of(m.thread_key) for m in got} == {f"whatsapp:{Path(name).stem}"}


def test_whatsapp_system_lines_media_and_dotted_dates(everything: tuple[list, list, dict]) -> None:  # type: ignore[type-arg]
    pokemon = _of(everything[0], "whatsapp/whatstk/pokemon.txt")
    assert pokemon[0].author.display_name == "Ash Ketchum"
    assert pokemon[0].created_at == datetime(2016, 8, 6, 13, 23, tzinfo=SHANGHAI)
    assert not any("encrypted" in m.text or "secured" in m.text for m in pokemon)
    small = _of(everything[0], "whatsapp/chat-analytics/2A_5M.txt")
    assert [m.text for m in small] == ["Hi", "Whats up?", "All good", "", "This message should be reordered"]
    lorem = _of(everything[0], "whatsapp/whatstk/lorem.txt")
    assert lorem[0].created_at == datetime(2020, 1, 15, 2, 22, 56, tzinfo=SHANGHAI)
    assert lorem[2].author.display_name == "+1 123 456 789"
    zipped = _of(everything[0], "whatsapp/chat-analytics/4A_11M.zip")
    plain = _of(everything[0], "whatsapp/chat-analytics/4A_11M.txt")
    assert [(m.text, m.created_at) for m in zipped] == [(m.text, m.created_at) for m in plain]
    assert zipped[-1].text == "heh" and zipped[-2].text == "im still mallory"
    assert chat_of(zipped[0].thread_key) == "whatsapp:4A_11M"


def test_telegram_fields(everything: tuple[list, list, dict]) -> None:  # type: ignore[type-arg]
    batch = _of(everything[0], "telegram/chat-miner/test_batch_export.json")
    assert batch[1].text == "Link:https://telegram.org/"
    assert batch[0].created_at == datetime.fromtimestamp(1544006350, tz=UTC)
    assert chat_of(batch[0].thread_key) == "telegram:Chatname" and batch[0].title == "Chatname"
    dm = _of(everything[0], "telegram/chat-analytics/DM_2A_7M.json")
    assert dm[0].text == "https://google.com 👀"
    assert dm[0].author.id == "user700000000" and dm[0].author.display_name == "Bob"
    assert dm[0].created_at == datetime(2019, 7, 12, 16, 55, 32, tzinfo=SHANGHAI)  # naive "date"
    assert [m.text for m in dm[-2:]] == ["", ""]  # photos without caption
    assert {chat_of(m.thread_key) for m in dm} == {"telegram:700000000"}
    big = _of(everything[0], "telegram/chat-analytics/BIG_20A_5475M.json")
    assert big[0].created_at == datetime(2017, 1, 1, 6, 20, 9, 248000, tzinfo=UTC)
    assert big[0].author.id == "19" and big[0].text == "Incidunt consequuntur alias."
    assert len({m.author.id for m in big}) == 20


def test_slack_fields(everything: tuple[list, list, dict]) -> None:  # type: ignore[type-arg]
    slack = [m for m in everything[0] if m.thread_key.startswith("slack:")]
    first = slack[0]
    assert chat_of(first.thread_key) == "slack:C0JGLMMNX" and first.title == "enrique"
    assert first.author.display_name == "Hamza Faran"
    assert first.text.startswith("@Harry Potter: Created an issue for a setup.py")
    assert {chat_of(m.thread_key) for m in slack} == {"slack:C0JGLMMNX", "slack:C0JL6CGQ2"}
    bots = [m for m in slack if m.author.id.startswith("B")]
    assert bots and all(m.text for m in bots)  # attachment text stands in for the empty text
    assert not any("has joined the channel" in m.text for m in slack)
