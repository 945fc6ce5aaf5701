"""Generated Chinese exports in every format import exactly as written, and only once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.chat_export import ChatExportConnector, GenericMapping
from monitor.message import Message
from tests.connectors.chat_export import chatgen
from tests.connectors.chat_export.chatgen import Said
from tests.connectors.chat_export.conftest import run

Writer = Callable[[Path], tuple[list[Said], dict[str, object]]]


def _write(path: Path, text: str, encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding)


def wa(style: str, truth: Callable[[], list[Said]]) -> Writer:
    def write(root: Path) -> tuple[list[Said], dict[str, object]]:
        said = truth()
        _write(root / "WhatsApp Chat with 售后群.txt", chatgen.whatsapp(said, style))
        return said, {}

    return write


def telegram_single(root: Path) -> tuple[list[Said], dict[str, object]]:
    said = chatgen.traditional()
    _write(root / "ChatExport_2024-03-17" / "result.json", chatgen.telegram_single(said))
    return said, {}


def telegram_batch(root: Path) -> tuple[list[Said], dict[str, object]]:
    a, b = chatgen.simplified(), chatgen.traditional()
    c = chatgen.more(2, b[-1].at, tag="已退群")
    doc = chatgen.telegram_batch([("售后一群", 1, a), ("售後二群", 2, b)], left=[("旧群", 3, c)])
    _write(root / "DataExport" / "result.json", doc)
    return a + b + c, {}


def wechat_csv(root: Path) -> tuple[list[Said], dict[str, object]]:
    said = chatgen.simplified()
    _write(root / "聊天记录" / "王小明_utf8.csv", chatgen.wechat_csv(said))
    expected = [*said[:2], chatgen.wechat_media_row(said[1]), *said[2:]]
    return expected, {}


def wechat_csv_gbk(root: Path) -> tuple[list[Said], dict[str, object]]:
    said = chatgen.simplified()
    text = chatgen.wechat_csv(said, with_system=False).lstrip("\ufeff")
    # GBK cannot hold emoji; Windows tools that write GBK drop them, so the truth does too.
    plain = [Said(s.sender, s.sender_id, s.at, s.text.encode("gbk", "ignore").decode("gbk")) for s in said]
    _write(root / "王小明_utf8.csv", text.encode("gbk", "ignore").decode("gbk"), "gbk")
    return plain, {}


def pywxdump_csv(root: Path) -> tuple[list[Said], dict[str, object]]:
    said = chatgen.traditional()
    _write(root / "wxid_x_0_5001.csv", chatgen.pywxdump_csv(said))
    return said, {}


def wechat_txt(root: Path) -> tuple[list[Said], dict[str, object]]:
    said = chatgen.simplified()
    said[3] = Said(said[3].sender, said[3].sender_id, said[3].at, "第一段\n\n第三段，中间有空行 ✅")
    _write(root / "王小明.txt", chatgen.wechat_txt(said))
    return said, {}


def slack(root: Path) -> tuple[list[Said], dict[str, object]]:
    said = chatgen.traditional()
    chatgen.slack_export(root / "slack-export", "客服頻道", said)
    return said, {}


def generic_jsonl(root: Path) -> tuple[list[Said], dict[str, object]]:
    said = chatgen.simplified()
    _write(root / "crm.jsonl", chatgen.generic_jsonl(said))
    mapping = GenericMapping(text="body", created_at="ts", sender="who", sender_id="uid", chat="conv.id")
    return said, {"mapping": mapping}


def generic_csv(root: Path) -> tuple[list[Said], dict[str, object]]:
    said = chatgen.traditional()
    _write(root / "客服紀錄.csv", chatgen.generic_csv(said))
    mapping = GenericMapping(
        text="内容", created_at="时间", sender="用户", delimiter=";", time_format="%Y/%m/%d %H:%M:%S"
    )
    return said, {"mapping": mapping}


CASES: dict[str, tuple[Writer, str]] = {
    "whatsapp-android-dmy": (wa("android_dmy", chatgen.simplified), "whatsapp:售后群"),
    "whatsapp-ios-mdy-12h": (wa("ios_mdy_12", chatgen.traditional), "whatsapp:售后群"),
    "whatsapp-ymd": (wa("ymd", chatgen.simplified), "whatsapp:售后群"),
    "whatsapp-zh-tw-afternoon": (wa("zh_tw", chatgen.traditional), "whatsapp:售后群"),
    "whatsapp-dotted": (wa("dotted", chatgen.simplified), "whatsapp:售后群"),
    "telegram-single": (telegram_single, "telegram:4242"),
    "telegram-batch": (telegram_batch, ""),  # three threads, see below
    "wechat-csv-wechatmsg": (wechat_csv, "wechat:王小明"),
    "wechat-csv-gbk": (wechat_csv_gbk, "wechat:王小明"),
    "wechat-csv-pywxdump": (pywxdump_csv, "wechat:12345@chatroom"),
    "wechat-txt": (wechat_txt, "wechat:王小明"),
    "slack": (slack, "slack:C0SUPPORT"),
    "generic-jsonl": (generic_jsonl, "generic:ticket-88"),
    "generic-csv": (generic_csv, "generic:客服紀錄"),
}


def _seen(messages: list[Message]) -> list[tuple[str, object, str]]:
    # Slack's ts carries a per-channel sequence in its microseconds; the truth is to the second.
    return [(m.author.display_name, m.created_at.replace(microsecond=0), m.text) for m in messages]


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_generated_export_imports_exactly(
    case: str, tmp_path: Path, importer: Callable[..., ChatExportConnector]
) -> None:
    write, thread = CASES[case]
    truth, settings = write(tmp_path)
    connector = importer(**settings)
    messages, quarantined, checkpoint = run(connector)
    assert quarantined == []
    assert _seen(messages) == [(s.sender, s.at, s.text) for s in truth]
    assert all(m.created_at.tzinfo is not None for m in messages)
    if thread:
        assert {chatgen.chat_of(m.thread_key) for m in messages} == {thread}
    assert len({m.external_id for m in messages}) == len(messages)  # repeats get their own id
    # a second poll from the checkpoint adds nothing, and a fresh re-import yields the same ids
    again, _, _ = run(connector, checkpoint)
    assert again == []
    replay, _, _ = run(connector)
    assert [m.external_id for m in replay] == [m.external_id for m in messages]


def test_telegram_batch_export_threads_per_chat(
    tmp_path: Path, importer: Callable[..., ChatExportConnector]
) -> None:
    telegram_batch(tmp_path)
    messages, _, _ = run(importer())
    assert [chatgen.chat_of(m.thread_key) for m in messages] == ["telegram:1"] * 7 + ["telegram:2"] * 5 + ["telegram:3"] * 2
    assert {m.title for m in messages} == {"售后一群", "售後二群", "旧群"}
    said = (
        chatgen.simplified() + chatgen.traditional() + chatgen.more(2, chatgen.traditional()[-1].at, "已退群")
    )
    assert [m.engagement.likes for m in messages] == [chatgen.likes(s) for s in said]  # reactions


def test_reexport_with_new_messages_only_adds_the_new_ones(
    tmp_path: Path, importer: Callable[..., ChatExportConnector]
) -> None:
    """A fresh export of the same chat, under a new file name, shares ids with the old one."""
    said = chatgen.simplified()
    _write(tmp_path / "old" / "WhatsApp Chat with 售后群.txt", chatgen.whatsapp(said))
    first, _, _ = run(importer())
    extra = chatgen.more(3, said[-1].at.replace(hour=23))
    _write(tmp_path / "new" / "WhatsApp Chat with 售后群 (1).txt", chatgen.whatsapp(said + extra))
    both, _, _ = run(importer())
    ids_old = {m.external_id for m in first}
    ids_new = [m.external_id for m in both if m.raw_ref.startswith("new/")]
    assert len(ids_new) == len(said) + 3
    assert ids_new[: len(said)] == [m.external_id for m in first]
    assert not set(ids_new[len(said) :]) & ids_old


def test_timezone_setting_applies_to_naive_times(
    tmp_path: Path, importer: Callable[..., ChatExportConnector]
) -> None:
    _write(tmp_path / "chat.txt", "15/03/24, 09:05 - 王小明: 你好\n")
    (message,), _, _ = run(importer(timezone="Europe/Berlin"))
    assert message.created_at.utcoffset() is not None
    assert message.created_at.isoformat() == "2024-03-15T09:05:00+01:00"


def test_full_account_telegram_export_resumes_after_any_message(
    tmp_path: Path, importer: Callable[..., ChatExportConnector]
) -> None:
    """Checkpoints inside chat 1, between chats and inside chat 2 all resume exactly."""
    telegram_batch(tmp_path)
    connector = importer()
    everything, _, _ = run(connector)
    batches = list(connector.fetch(None, batch_size=1))
    assert len(batches) >= len(everything)
    for index, batch in enumerate(batches):
        before = [m.external_id for b in batches[: index + 1] for m in b.messages]
        rest, _, _ = run(connector, batch.checkpoint, batch_size=3)
        assert before + [m.external_id for m in rest] == [m.external_id for m in everything]
