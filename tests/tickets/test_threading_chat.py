"""Chat exports split into conversations: reply-to ids, per-sender sessions split by a quiet
gap, one-to-one chats, staff who answer (issue 15). Each conversation is one ticket."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.chat_export import ChatExportConfig, ChatExportConnector
from connectors.chat_export.conversations import Conversations
from monitor.message import Message
from monitor.pipeline import process_batch
from monitor.storage.db import Database
from monitor.storage.models import StoredMessage
from tests.helpers.builders import KeywordStub
from tests.helpers.context import context

T0 = datetime(2024, 3, 15, 1, 0, tzinfo=UTC)

# Three customers ask at once in one group; the agent answers each with Telegram's reply.
# (minute, message id, sender, text, reply to)
GROUP = [
    (0, 1, "王小明", "订单 1001 还没发货", None),
    (1, 2, "李娜", "退款什么时候到账", None),
    (2, 3, "客服小美", "王先生您好，正在查", 1),
    (3, 4, "陈大文", "发票怎么开", None),
    (4, 5, "客服小美", "退款三个工作日内到账", 2),
    (5, 6, "王小明", "好的谢谢", None),
    (6, 7, "客服小美", "发票在订单页申请", 4),
    (7, 8, "李娜", "收到", None),
    (9, 9, "客服小美", "已发货了", 6),
    (10, 10, "陈大文", "明白了", 7),
]


def telegram_group(rows: list[tuple[int, int, str, str, int | None]], chat_type: str = "private_supergroup") -> str:
    messages: list[dict[str, Any]] = []
    for minute, message_id, sender, text, reply_to in rows:
        entry: dict[str, Any] = {
            "id": message_id,
            "type": "message",
            "date_unixtime": str(int((T0 + timedelta(minutes=minute)).timestamp())),
            "from": sender,
            "from_id": f"user{abs(hash(sender)) % 10**6}",
            "text": text,
        }
        if reply_to is not None:
            entry["reply_to_message_id"] = reply_to
        messages.append(entry)
    return json.dumps({"name": "售后群", "type": chat_type, "id": 777, "messages": messages}, ensure_ascii=False)


def whatsapp(rows: list[tuple[int, str, str]]) -> str:
    lines = []
    for minute, sender, text in rows:
        at = (T0 + timedelta(hours=8, minutes=minute)).strftime("%d/%m/%Y, %H:%M")
        lines.append(f"{at} - {sender}: {text}")
    return "\n".join(lines) + "\n"


def connector(path: Path, **settings: Any) -> ChatExportConnector:
    return ChatExportConnector("chats", ChatExportConfig(path=path, **settings))


def ticket_groups(db: Database, source: ChatExportConnector, batch_size: int = 500) -> list[list[str]]:
    """Import the folder through the pipeline; the message texts on each ticket."""
    for batch in source.fetch(None, batch_size=batch_size):
        process_batch(context(db, KeywordStub({}), []), "chats", "chat_export", batch)
    with db.read() as session:
        rows = session.execute(select(StoredMessage.ticket_id, StoredMessage.text).order_by(StoredMessage.id))
        groups: dict[int, list[str]] = {}
        for ticket_id, text in rows:
            groups.setdefault(int(ticket_id), []).append(text)
    return sorted(groups.values())


EXPECTED_GROUP = sorted([
    ["订单 1001 还没发货", "王先生您好，正在查", "好的谢谢", "已发货了"],
    ["退款什么时候到账", "退款三个工作日内到账", "收到"],
    ["发票怎么开", "发票在订单页申请", "明白了"],
])


@pytest.mark.parametrize("batch_size", [500, 2], ids=["one-batch", "replies-in-later-batches"])
def test_telegram_group_with_reply_ids_is_three_tickets(
    sqlite_db: Database, tmp_path: Path, batch_size: int
) -> None:
    (tmp_path / "result.json").write_text(telegram_group(GROUP), encoding="utf-8")
    assert ticket_groups(sqlite_db, connector(tmp_path), batch_size) == EXPECTED_GROUP


TWO_CUSTOMERS = [
    (0, 1, "赵六", "冰箱不制冷了", None),
    (1, 2, "孙七", "空调遥控器丢了怎么办", None),
    (2, 3, "赵六", "型号是 BCD-520", 1),
    (3, 4, "孙七", "型号 KFR-35", 2),
]


@pytest.mark.parametrize(("chat_type", "tickets"), [("private_supergroup", 2), ("personal_chat", 1)])
def test_a_group_where_only_two_customers_spoke_is_not_a_one_to_one_chat(
    sqlite_db: Database, tmp_path: Path, chat_type: str, tickets: int
) -> None:
    """Two senders make a chat look one-to-one; a Telegram export that says it is a group wins."""
    (tmp_path / "result.json").write_text(telegram_group(TWO_CUSTOMERS, chat_type), encoding="utf-8")
    groups = ticket_groups(sqlite_db, connector(tmp_path))
    assert len(groups) == tickets
    if tickets == 2:
        assert groups == sorted([["冰箱不制冷了", "型号是 BCD-520"], ["空调遥控器丢了怎么办", "型号 KFR-35"]])


def test_reply_lookup_across_batches_on_every_database(any_db: Database, tmp_path: Path) -> None:
    (tmp_path / "result.json").write_text(telegram_group(GROUP), encoding="utf-8")
    assert ticket_groups(any_db, connector(tmp_path), batch_size=1) == EXPECTED_GROUP


def test_telegram_messages_carry_their_ids_and_reply_ids(tmp_path: Path) -> None:
    (tmp_path / "result.json").write_text(telegram_group(GROUP), encoding="utf-8")
    messages: list[Message] = [m for b in connector(tmp_path).fetch(None) for m in b.messages]
    assert [m.ref_id for m in messages[:3]] == ["telegram:777#1", "telegram:777#2", "telegram:777#3"]
    assert messages[2].refs == ("telegram:777#1",) and messages[2].is_reply
    assert messages[0].refs == () and not messages[0].is_reply


# A WhatsApp group without reply ids: three customers interleave, one comes back after two quiet
# hours (a new conversation); the agent's lines continue the conversation last active.
WA_GROUP = [
    (0, "王小明", "订单 1001 还没发货"),
    (1, "李娜", "退款什么时候到账"),
    (2, "陈大文", "发票怎么开"),
    (3, "王小明", "急用"),
    (4, "李娜", "等了一周了"),
    (5, "陈大文", "公司抬头"),
    (150, "王小明", "又有一个新问题：屏幕碎了"),
]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, [["又有一个新问题：屏幕碎了"], ["发票怎么开", "公司抬头"], ["订单 1001 还没发货", "急用"],
              ["退款什么时候到账", "等了一周了"]]),
        ({"conversation_gap_minutes": 240}, [["发票怎么开", "公司抬头"],
                                              ["订单 1001 还没发货", "急用", "又有一个新问题：屏幕碎了"],
                                              ["退款什么时候到账", "等了一周了"]]),
        ({"conversations": "chat"}, [["又有一个新问题：屏幕碎了"],
                                     ["订单 1001 还没发货", "退款什么时候到账", "发票怎么开", "急用",
                                      "等了一周了", "公司抬头"]]),
    ],
    ids=["per-sender-30min-gap", "gap-240min", "whole-chat-mode"],
)
def test_whatsapp_group_splits_by_sender_and_quiet_gap(
    sqlite_db: Database, tmp_path: Path, settings: dict[str, Any], expected: list[list[str]]
) -> None:
    (tmp_path / "WhatsApp Chat with 售后群.txt").write_text(whatsapp(WA_GROUP), encoding="utf-8")
    assert ticket_groups(sqlite_db, connector(tmp_path, **settings)) == sorted(expected)


def test_staff_lines_continue_the_conversation_last_active(sqlite_db: Database, tmp_path: Path) -> None:
    rows = [*WA_GROUP[:2], (2, "客服小美", "李女士，退款已处理"), (3, "陈大文", "发票怎么开"),
            (4, "客服小美", "发票在订单页申请")]
    (tmp_path / "WhatsApp Chat with 售后群.txt").write_text(whatsapp(rows), encoding="utf-8")
    groups = ticket_groups(sqlite_db, connector(tmp_path, staff=["客服小美"]))
    assert groups == sorted([["订单 1001 还没发货"], ["退款什么时候到账", "李女士，退款已处理"],
                             ["发票怎么开", "发票在订单页申请"]])


def test_one_to_one_chat_is_one_conversation_per_quiet_gap(sqlite_db: Database, tmp_path: Path) -> None:
    rows = [(0, "张女士", "耳机左边没声音"), (2, "客服", "请重启试试"), (5, "张女士", "好了"),
            (300, "张女士", "又坏了"), (301, "客服", "给您换货")]
    (tmp_path / "WhatsApp Chat with 张女士.txt").write_text(whatsapp(rows), encoding="utf-8")
    groups = ticket_groups(sqlite_db, connector(tmp_path))
    assert groups == sorted([["耳机左边没声音", "请重启试试", "好了"], ["又坏了", "给您换货"]])


def test_generic_jsonl_with_mapped_reply_ids(sqlite_db: Database, tmp_path: Path) -> None:
    lines = [
        {"id": 1, "ts": "2024-03-15T09:00:00+08:00", "who": "a", "msg": "问题一"},
        {"id": 2, "ts": "2024-03-15T09:01:00+08:00", "who": "b", "msg": "问题二"},
        {"id": 3, "ts": "2024-03-15T09:02:00+08:00", "who": "c", "msg": "问题三"},
        {"id": 4, "ts": "2024-03-15T09:03:00+08:00", "who": "agent", "msg": "答一", "parent": 1},
        {"id": 5, "ts": "2024-03-15T09:04:00+08:00", "who": "agent", "msg": "答二", "parent": 2},
        {"id": 6, "ts": "2024-03-15T09:05:00+08:00", "who": "agent", "msg": "答三", "parent": 3},
    ]
    (tmp_path / "log.jsonl").write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n",
                                        encoding="utf-8")
    mapping = {"text": "msg", "created_at": "ts", "sender": "who", "id": "id", "reply_to": "parent",
               "chat_value": "support"}
    groups = ticket_groups(sqlite_db, connector(tmp_path, mapping=mapping))
    assert groups == sorted([["问题一", "答一"], ["问题二", "答二"], ["问题三", "答三"]])


def test_keys_are_the_same_read_in_one_go_or_in_pieces(tmp_path: Path) -> None:
    # every tenth step a quiet hour; each step two of the three senders write
    rows = [(step * 7 + (step // 10) * 60, sender, f"{sender} {step}") for step in range(45)
            for index, sender in enumerate(("甲", "乙", "丙")) if step % 3 != index]
    whole = tmp_path / "whole"
    pieces = tmp_path / "pieces"
    whole.mkdir()
    pieces.mkdir()
    text = whatsapp(rows)
    (whole / "chat.txt").write_text(text, encoding="utf-8")
    at_once = [m.thread_key for b in connector(whole).fetch(None) for m in b.messages]
    lines = text.splitlines(keepends=True)
    target = pieces / "chat.txt"
    checkpoint = None
    keys: list[str] = []
    for cut in (len(lines) // 3, 2 * len(lines) // 3, len(lines)):
        target.write_text("".join(lines[:cut]), encoding="utf-8")
        for batch in connector(pieces).fetch(checkpoint, batch_size=5):
            keys += [m.thread_key for m in batch.messages]
            checkpoint = batch.checkpoint
    assert keys == at_once
    assert len(set(at_once)) == 3 * 5  # three senders, five stretches between quiet hours


def test_conversation_state_keeps_only_open_conversations() -> None:
    conversations = Conversations(30, "sender")
    base = 1_700_000_000_000
    for index in range(100):  # a new sender every 40 minutes: only the last is still open
        conversations.key("chat", f"s{index}", base + index * 2_400_000)
    state = conversations.state()
    assert list(state["open"]) == ["chat\x1fs99"]
    resumed = Conversations(30, "sender", json.loads(json.dumps(state)))
    last = base + 99 * 2_400_000
    assert resumed.key("chat", "s99", last + 60_000) == f"chat/s99@{last // 1000}"
    assert resumed.key("chat", "s98", last + 60_000) == f"chat/s98@{(last + 60_000) // 1000}"


def test_slack_thread_replies_join_their_parent(sqlite_db: Database, tmp_path: Path) -> None:
    root = tmp_path / "workspace"
    (root / "support").mkdir(parents=True)
    (root / "users.json").write_text(json.dumps([{"id": f"U{i}", "name": n} for i, n in
                                                 enumerate(["ann", "bob", "cat", "agent"])]))
    (root / "channels.json").write_text(json.dumps([{"id": "C1", "name": "support"}]))
    base = T0.timestamp()

    def post(minute: int, user: int, text: str, parent: int | None = None) -> dict[str, Any]:
        ts = f"{base + minute * 60:.6f}"
        entry: dict[str, Any] = {"type": "message", "ts": ts, "user": f"U{user}", "text": text}
        if parent is not None:
            entry["thread_ts"] = f"{base + parent * 60:.6f}"
        return entry

    day = [post(0, 0, "q ann"), post(1, 1, "q bob"), post(2, 2, "q cat"), post(3, 3, "a ann", 0),
           post(4, 3, "a bob", 1), post(5, 3, "a cat", 2), post(6, 0, "thanks", 0)]
    (root / "support" / "2024-03-15.json").write_text(json.dumps(day))
    groups = ticket_groups(sqlite_db, connector(root))
    assert groups == sorted([["q ann", "a ann", "thanks"], ["q bob", "a bob"], ["q cat", "a cat"]])


@pytest.mark.parametrize("batch_size", [500, 1], ids=["one-poll", "one-message-per-batch"])
def test_a_slack_conversation_across_midnight_stays_one_ticket(
    sqlite_db: Database, tmp_path: Path, batch_size: int
) -> None:
    """Slack writes one file per day: ann's conversation from 23:50 goes on in the next day's file
    (one ticket); bob, quiet for hours, opens a new one."""
    root = tmp_path / "workspace"
    (root / "support").mkdir(parents=True)
    (root / "users.json").write_text(json.dumps([{"id": "U0", "name": "ann"}, {"id": "U1", "name": "bob"}]))
    (root / "channels.json").write_text(json.dumps([{"id": "C1", "name": "support"}]))
    midnight = datetime(2024, 3, 16, tzinfo=UTC).timestamp()

    def post(minutes: int, user: int, text: str) -> dict[str, Any]:
        return {"type": "message", "ts": f"{midnight + minutes * 60:.6f}", "user": f"U{user}", "text": text}

    (root / "support" / "2024-03-15.json").write_text(json.dumps(
        [post(-300, 1, "bob early"), post(-10, 0, "ann 23:50"), post(-2, 0, "ann 23:58")]))
    (root / "support" / "2024-03-16.json").write_text(json.dumps(
        [post(5, 0, "ann 00:05"), post(12, 0, "ann 00:12"), post(240, 1, "bob later")]))
    groups = ticket_groups(sqlite_db, connector(root), batch_size)
    assert groups == sorted([["bob early"], ["ann 23:50", "ann 23:58", "ann 00:05", "ann 00:12"], ["bob later"]])
