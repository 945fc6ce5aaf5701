"""Formats are told apart by content; the file name does not decide."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.chat_export import ChatExportConnector, GenericMapping
from connectors.chat_export.detect import detect
from connectors.chat_export.files import discover
from connectors.chat_export.parsers.whatsapp import choose_order
from connectors.chat_export.records import ParseSettings
from tests.connectors.chat_export import chatgen
from tests.connectors.chat_export.conftest import run

SAID = chatgen.simplified()
MAPPING = GenericMapping(text="body", created_at="ts", sender="who")

# content, misleading file name, expected parser
CONTENT: dict[str, tuple[Callable[[], str], str, str]] = {
    "whatsapp-named-csv": (lambda: chatgen.whatsapp(SAID), "export.csv", "whatsapp"),
    "whatsapp-ios-named-json": (lambda: chatgen.whatsapp(SAID, "ios_mdy_12"), "chat.json", "whatsapp"),
    "telegram-named-txt": (lambda: chatgen.telegram_single(SAID), "chat.txt", "telegram"),
    "telegram-batch": (lambda: chatgen.telegram_batch([("a", 1, SAID)]), "result.json", "telegram"),
    "wechat-txt-named-csv": (lambda: chatgen.wechat_txt(SAID), "chat.csv", "wechat_txt"),
    "wechat-csv-named-txt": (lambda: chatgen.wechat_csv(SAID), "chat.txt", "wechat_csv"),
    "pywxdump-csv": (lambda: chatgen.pywxdump_csv(SAID), "x.csv", "wechat_csv"),
    "slack-day-file-alone": (
        lambda: '[{"type": "message", "user": "U1", "text": "hi", "ts": "1.0"}]',
        "2024-01-01.json",
        "slack",
    ),
    "generic-jsonl": (
        lambda: '{"body": "你好", "ts": "2024-01-01T00:00:00", "who": "王"}\n',
        "a.txt",
        "generic",
    ),
    "plain-notes": (lambda: "购物清单\n牛奶\n面包\n", "notes.txt", ""),
    "other-json": (lambda: '{"format": "%d/%m/%y", "auto_header": 1}', "formats.json", ""),
}


@pytest.mark.parametrize("case", CONTENT, ids=list(CONTENT))
def test_detect_by_content(case: str, tmp_path: Path) -> None:
    content, name, expected = CONTENT[case]
    (tmp_path / name).write_text(content(), "utf-8")
    (file,) = discover(tmp_path, recursive=True)
    settings = ParseSettings(ZoneInfo("Asia/Shanghai"), "chat", mapping=MAPPING)
    assert (detect(file, settings) or "") == expected


def test_forced_format_restricts_detection(
    tmp_path: Path, importer: Callable[..., ChatExportConnector]
) -> None:
    (tmp_path / "a.txt").write_text(chatgen.whatsapp(SAID), "utf-8")
    (tmp_path / "b.txt").write_text(chatgen.wechat_txt(SAID), "utf-8")
    messages, _, checkpoint = run(importer(format="wechat"))
    assert {m.raw_ref.split("@")[0] for m in messages} == {"b.txt"}
    assert checkpoint is not None and checkpoint["files"]["a.txt"]["format"] is None


@pytest.mark.parametrize(
    ("dates", "order"),
    [
        ([("01", "02", "23"), ("13", "02", "23")], "dmy"),
        ([("02", "01", "23"), ("02", "13", "23")], "mdy"),
        ([("2023", "1", "5")], "ymd"),
        # 3 Jan, 4 Jan, 5 Jan, 1 Feb read day-first; month-first would jump back from May to January
        ([("03", "01", "24"), ("04", "01", "24"), ("05", "01", "24"), ("01", "02", "24")], "dmy"),
        ([("01", "03", "24"), ("01", "04", "24"), ("01", "05", "24"), ("02", "01", "24")], "mdy"),
        ([("01", "02", "24")], "dmy"),
        # 31/02 is impossible in every order; year-first would read 2028 and 2031 (future dates)
        ([("28", "02", "24"), ("31", "02", "24"), ("01", "03", "24")], "dmy"),
        ([("02", "28", "24"), ("02", "31", "24"), ("03", "01", "24")], "mdy"),
    ],
    ids=[
        "day-over-12",
        "month-second-over-12",
        "year-first",
        "chronology-dmy",
        "chronology-mdy",
        "ambiguous-defaults-to-day-first",
        "one-impossible-date-dmy",
        "one-impossible-date-mdy",
    ],
)
def test_whatsapp_date_order_is_resolved_per_file(dates: list[tuple[str, str, str]], order: str) -> None:
    assert choose_order(dates, "dmy") == order


def test_ambiguous_dates_can_be_forced(tmp_path: Path, importer: Callable[..., ChatExportConnector]) -> None:
    (tmp_path / "chat.txt").write_text("01/02/24, 09:00 - 王: 一\n03/02/24, 09:00 - 王: 二\n", "utf-8")
    day_first, _, _ = run(importer())
    month_first, _, _ = run(importer(date_order="mdy"))
    assert [m.created_at.month for m in day_first] == [2, 2]
    assert [m.created_at.month for m in month_first] == [1, 3]


def test_ios_notices_marked_with_lrm_are_not_messages(
    tmp_path: Path, importer: Callable[..., ChatExportConnector]
) -> None:
    (tmp_path / "_chat.txt").write_text(
        "[15/03/2024, 09:05:01] 售后群: \u200eMessages and calls are end-to-end encrypted.\n"
        "[15/03/2024, 09:05:02] 王小明: \u200eimage omitted\n"
        "[15/03/2024, 09:05:09] 王小明: 耳机坏了\n",
        "utf-8",
    )
    messages, _, _ = run(importer())
    assert [(m.author.display_name, m.text) for m in messages] == [("王小明", ""), ("王小明", "耳机坏了")]
