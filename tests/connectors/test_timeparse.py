"""Every time format the sources write, with zones, relative times and bounds (connectors.timeparse)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.files import FilesConfig, FilesConnector
from connectors.timeparse import parse_time, resolve_time
from tests.connectors.conformance import drain

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai
CST = timezone(timedelta(hours=8))


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


CASES: list[tuple[str, Any, datetime]] = [
    ("rfc2822", "Mon, 04 Mar 2024 17:19:00 +0000", datetime(2024, 3, 4, 17, 19, tzinfo=UTC)),
    ("rfc2822-zone-name", "Mon, 4 Mar 2024 17:19:00 GMT", datetime(2024, 3, 4, 17, 19, tzinfo=UTC)),
    ("rfc2822-offset", "Mon, 04 Mar 2024 17:19:00 +0800", datetime(2024, 3, 4, 17, 19, tzinfo=CST)),
    ("twitter-classic", "Mon Mar 04 17:19:00 +0000 2024", datetime(2024, 3, 4, 17, 19, tzinfo=UTC)),
    ("twitter-classic-offset", "Mon Mar 04 17:19:00 +0800 2024", datetime(2024, 3, 4, 17, 19, tzinfo=CST)),
    ("iso-z", "2024-03-04T17:19:00Z", datetime(2024, 3, 4, 17, 19, tzinfo=UTC)),
    ("iso-offset", "2024-03-04T17:19:00+08:00", datetime(2024, 3, 4, 17, 19, tzinfo=CST)),
    ("iso-millis-z", "2024-03-04T17:19:00.123Z", datetime(2024, 3, 4, 17, 19, 0, 123000, tzinfo=UTC)),
    ("iso-naive", "2024-03-04T17:19:00", sh(2024, 3, 4, 17, 19)),
    ("iso-space-naive", "2024-03-04 17:19", sh(2024, 3, 4, 17, 19)),
    ("weibo-full", "2024-03-04 17:19", sh(2024, 3, 4, 17, 19)),
    ("date-only", "2024-03-04", sh(2024, 3, 4)),
    ("chinese-date", "2024年3月4日 17:19", sh(2024, 3, 4, 17, 19)),
    ("chinese-date-nospace", "2024年3月4日17:19", sh(2024, 3, 4, 17, 19)),
    ("chinese-date-only", "2024年3月4日", sh(2024, 3, 4)),
    ("slashes", "2024/3/4 17:19", sh(2024, 3, 4, 17, 19)),
    ("slashes-seconds", "2024/03/04 17:19:05", sh(2024, 3, 4, 17, 19, 5)),
    ("dots", "2024.3.4 17:19", sh(2024, 3, 4, 17, 19)),
    ("weibo-just-now", "刚刚", NOW),
    ("weibo-minutes-ago", "3分钟前", NOW - timedelta(minutes=3)),
    ("weibo-hours-ago", "1小时前", NOW - timedelta(hours=1)),
    ("weibo-half-hour", "半小时前", NOW - timedelta(minutes=30)),
    ("weibo-days-ago", "2天前", NOW - timedelta(days=2)),
    ("traditional-minutes-ago", "5分鐘前", NOW - timedelta(minutes=5)),
    ("weibo-today", "今天 17:19", sh(2024, 3, 5, 17, 19)),
    ("weibo-yesterday", "昨天 17:19", sh(2024, 3, 4, 17, 19)),
    ("weibo-day-before", "前天 08:00", sh(2024, 3, 3, 8, 0)),
    ("weibo-month-day", "03-04 17:19", sh(2024, 3, 4, 17, 19)),
    ("weibo-month-day-last-year", "12-31 23:59", sh(2023, 12, 31, 23, 59)),
    ("chinese-month-day", "3月4日 17:19", sh(2024, 3, 4, 17, 19)),
    ("english-hours-ago", "2 hours ago", NOW - timedelta(hours=2)),
    ("english-an-hour-ago", "an hour ago", NOW - timedelta(hours=1)),
    ("english-mins-ago", "15 mins ago", NOW - timedelta(minutes=15)),
    ("english-months-ago", "1 month ago", NOW - timedelta(days=30)),
    ("english-yesterday", "yesterday", NOW - timedelta(days=1)),
    ("english-yesterday-at", "yesterday at 17:19", sh(2024, 3, 4, 17, 19)),
    ("english-just-now", "just now", NOW),
    ("epoch-seconds", 1709572740, datetime(2024, 3, 4, 17, 19, tzinfo=UTC)),
    ("epoch-seconds-float", 1709572740.5, datetime(2024, 3, 4, 17, 19, 0, 500000, tzinfo=UTC)),
    ("epoch-millis", 1709572740123, datetime(2024, 3, 4, 17, 19, 0, 123000, tzinfo=UTC)),
    ("epoch-micros", 1709572740123456, datetime(2024, 3, 4, 17, 19, 0, 123456, tzinfo=UTC)),
    ("epoch-seconds-text", "1709572740", datetime(2024, 3, 4, 17, 19, tzinfo=UTC)),
    ("epoch-slack-ts", "1709572740.000100", datetime(2024, 3, 4, 17, 19, 0, 100, tzinfo=UTC)),
    ("bom-and-spaces", "\ufeff 2024-03-04  17:19 ", sh(2024, 3, 4, 17, 19)),
]


@pytest.mark.parametrize(("value", "expected"), [(v, e) for _, v, e in CASES], ids=[c[0] for c in CASES])
def test_every_format_is_read(value: Any, expected: datetime) -> None:
    assert parse_time(value, now=NOW, zone=SHANGHAI) == expected


UNREADABLE: list[tuple[str, Any]] = [
    ("far-future-epoch", 1e20),
    ("infinite", float("inf")),
    ("nan", float("nan")),
    ("before-2000", "1999-12-31T23:59:59Z"),
    ("epoch-zero", 0),
    ("three-days-ahead", "2024-03-08T10:00:00Z"),
    ("year-10000-millis", 253402300800000),
    ("garbage", "next tuesday-ish"),
    ("impossible-date", "2024-02-30 10:00"),
    ("impossible-month-day", "13-45 10:00"),
    ("boolean", True),
    ("list", ["2024-03-04"]),
    ("object", {"t": 1}),
]


@pytest.mark.parametrize("value", [v for _, v in UNREADABLE], ids=[c[0] for c in UNREADABLE])
def test_unreadable_or_out_of_bounds_times_give_the_fetch_time_and_a_flag(value: Any) -> None:
    assert parse_time(value, now=NOW, zone=SHANGHAI) is None
    assert resolve_time(value, now=NOW, zone=SHANGHAI) == (NOW, ("time-unparsed",))


def test_the_bounds_are_inclusive_of_two_days_ahead() -> None:
    ahead = NOW + timedelta(days=2)
    assert parse_time(ahead.isoformat(), now=NOW) == ahead
    assert parse_time((ahead + timedelta(seconds=1)).isoformat(), now=NOW) is None


@pytest.mark.parametrize("value", [None, "", "   "], ids=["none", "empty", "blank"])
def test_an_absent_time_is_the_fetch_time_without_a_flag(value: Any) -> None:
    assert resolve_time(value, now=NOW, zone=SHANGHAI) == (NOW, ())


@pytest.mark.parametrize(
    ("time_format", "value", "expected"),
    [
        ("%d.%m.%Y %H:%M", "04.03.2024 17:19", sh(2024, 3, 4, 17, 19)),
        ("%m/%d/%Y %I:%M %p", "03/04/2024 05:19 PM", sh(2024, 3, 4, 17, 19)),
        ("epoch_ms", "1709572740000", datetime(2024, 3, 4, 17, 19, tzinfo=UTC)),
        ("%d.%m.%Y %H:%M", "2024-03-04T17:19:00Z", datetime(2024, 3, 4, 17, 19, tzinfo=UTC)),
    ],
    ids=["day-first-dots", "us-12-hour", "epoch-ms", "falls-back-to-the-usual-formats"],
)
def test_a_per_source_time_format_is_tried_first(time_format: str, value: str, expected: datetime) -> None:
    assert parse_time(value, now=NOW, zone=SHANGHAI, time_format=time_format) == expected


def test_files_source_stores_twitter_times_and_flags_unreadable_ones(tmp_path: Path) -> None:
    records = [
        {"id": "classic", "text": "a", "created_at": "Mon Mar 04 17:19:00 +0000 2024"},
        {"id": "weibo", "text": "b", "created_at": "2024年3月4日 17:19"},
        {"id": "custom", "text": "c", "created_at": "04.03.2024 17:19"},
        {"id": "huge", "text": "d", "created_at": 1e20},
        {"id": "junk", "text": "e", "created_at": "soon"},
    ]
    (tmp_path / "x.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    connector = FilesConnector(
        "f", FilesConfig.model_validate({"path": tmp_path, "settle_seconds": 0, "time_format": "%d.%m.%Y %H:%M"})
    )
    before = datetime.now(UTC)
    messages, _, batches = drain(connector, None)
    assert [q for b in batches for q in b.quarantined] == [], "a time never quarantines a message"
    by_id = {m.external_id: m for m in messages}
    assert by_id["classic"].created_at == datetime(2024, 3, 4, 17, 19, tzinfo=UTC)
    assert by_id["weibo"].created_at == sh(2024, 3, 4, 17, 19)
    assert by_id["custom"].created_at == sh(2024, 3, 4, 17, 19)
    for name in ("huge", "junk"):
        assert by_id[name].flags == ("time-unparsed",)
        assert by_id[name].created_at >= before, "the fetch time stands in"
    assert by_id["classic"].flags == ()
