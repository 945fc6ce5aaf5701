"""Generated chat exports in every supported format, with the messages they must import as.

Chinese customer-service chats in simplified and traditional characters, with emoji and
multi-line messages. Writers render the same ground truth the way each export tool does, so a
test can compare what the connector imports against what was written.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Said:
    """One message of the ground truth: who, when (aware) and what."""

    sender: str
    sender_id: str
    at: datetime
    text: str


SIMPLIFIED = [
    ("王小明", "wxid_wang01", "你好，我昨天买的耳机到了，但是左耳没有声音 😡"),
    ("客服小美", "wxid_kefu", "您好！非常抱歉给您带来不便🙏\n请问订单号是多少？"),
    ("王小明", "wxid_wang01", "订单号 20240315-8848\n包装也破了\n快递员态度很差"),
    ("客服小美", "wxid_kefu", "好的，已为您登记退换货，预计3个工作日内处理 ✅"),
    ("王小明", "wxid_wang01", "好的"),
    ("王小明", "wxid_wang01", "好的"),
    ("李娜", "wxid_lina", "你们的APP又闪退了，第三次了！！要投诉 🤬🤬"),
]
TRADITIONAL = [
    ("陳大文", "tg_chan", "請問你們的退款甚麼時候會到帳？已經等了兩個星期 😤"),
    ("客服阿玲", "tg_ling", "您好，我們查詢後會盡快回覆您 🙇\n請提供訂單編號。"),
    ("陳大文", "tg_chan", "訂單編號 TW-99231\n付款方式：信用卡\n金額：NT$1,280"),
    ("黃美玲", "tg_wong", "產品品質很差，用了一天就壞了，要求賠償！👎"),
    ("客服阿玲", "tg_ling", "收到，已轉交主管處理。"),
]


def conversation(
    lines: list[tuple[str, str, str]],
    start: datetime,
    *,
    step_minutes: int = 7,
    repeat_same_minute: bool = True,
) -> list[Said]:
    """Messages at increasing minutes; identical repeats share a minute (tests occurrence ids)."""
    out: list[Said] = []
    at = start
    for index, (name, sid, text) in enumerate(lines):
        same = repeat_same_minute and index > 0 and lines[index - 1][2] == text
        if not same and index:
            at = at + timedelta(minutes=step_minutes + index)
        out.append(Said(name, sid, at, text))
    return out


def simplified(start: datetime | None = None) -> list[Said]:
    return conversation(SIMPLIFIED, start or datetime(2024, 3, 15, 9, 5, tzinfo=SHANGHAI))


def traditional(start: datetime | None = None) -> list[Said]:
    return conversation(TRADITIONAL, start or datetime(2024, 3, 16, 21, 40, tzinfo=SHANGHAI))


def more(count: int, start: datetime, tag: str = "追加") -> list[Said]:
    """``count`` further distinct messages, one a minute from ``start``."""
    return [
        Said("赵六", "wxid_zhao", start + timedelta(minutes=i), f"{tag}消息 {i} 🚚 物流太慢了")
        for i in range(count)
    ]


# --- WhatsApp --------------------------------------------------------------------------------
def _wa_time(at: datetime, style: str) -> str:
    local = at.astimezone(SHANGHAI)
    if style == "android_dmy":
        return f"{local:%d/%m/%y}, {local:%H:%M} - "
    if style == "ios_mdy_12":
        hour, noon = local.hour % 12 or 12, "PM" if local.hour >= 12 else "AM"
        return f"[{local.month}/{local.day}/{local:%y}, {hour}:{local:%M:%S} {noon}] "
    if style == "ymd":
        return f"{local.year}/{local.month}/{local.day} {local:%H:%M} - "
    if style == "zh_tw":  # 2024/3/16 下午9:40 - 名字: 文字
        hour, noon = local.hour % 12 or 12, "下午" if local.hour >= 12 else "上午"
        return f"{local.year}/{local.month}/{local.day} {noon}{hour}:{local:%M} - "
    if style == "dotted":
        return f"{local:%d.%m.%Y}, {local:%H:%M} - "
    raise ValueError(style)


def whatsapp(messages: list[Said], style: str = "android_dmy", *, system: bool = True) -> str:
    lines: list[str] = []
    if system and messages:
        lines.append(
            _wa_time(messages[0].at, style)
            + "Messages and calls are end-to-end encrypted. No one outside of this chat can read them."
        )
        lines.append(_wa_time(messages[0].at, style) + '王小明 created group "售后群"')
    for said in messages:
        lines.append(_wa_time(said.at, style) + f"{said.sender}: {said.text}")
    return "\n".join(lines) + "\n"


# --- Telegram --------------------------------------------------------------------------------
def _tg_message(index: int, said: Said) -> dict[str, object]:
    text: object = said.text
    if "\n" in said.text:  # multi-line ones as entity arrays, the way links/bold come out
        first, rest = said.text.split("\n", 1)
        text = [{"type": "bold", "text": first}, "\n" + rest]
    return {
        "id": index,
        "type": "message",
        "date": said.at.astimezone(SHANGHAI).replace(tzinfo=None).isoformat(),
        "date_unixtime": str(int(said.at.timestamp())),
        "from": said.sender,
        "from_id": said.sender_id,
        "text": text,
        "reactions": [{"type": "emoji", "count": likes(said), "emoji": "👍"}],
    }


def likes(said: Said) -> int:
    """The reaction count the Telegram writer gives a message."""
    return len(said.text) % 4


def telegram_chat(messages: list[Said], name: str = "售後服務群", chat_id: int = 4242) -> dict[str, object]:
    entries: list[dict[str, object]] = [
        {
            "id": 1,
            "type": "service",
            "date": "2024-03-01T10:00:00",
            "date_unixtime": "1709258400",
            "actor": "系統",
            "action": "create_group",
            "text": "",
        }
    ]
    entries += [_tg_message(i + 2, s) for i, s in enumerate(messages)]
    return {"name": name, "type": "private_supergroup", "id": chat_id, "messages": entries}


def telegram_single(messages: list[Said], **kwargs: object) -> str:
    return json.dumps(telegram_chat(messages, **kwargs), ensure_ascii=False, indent=1)  # type: ignore[arg-type]


def telegram_batch(
    chats: list[tuple[str, int, list[Said]]], left: Sequence[tuple[str, int, list[Said]]] = ()
) -> str:
    """A full-account export ("Export Telegram data"): chats, then chats the account has left."""
    doc = {
        "about": "Here is the data you requested.",
        "personal_information": {"user_id": 1, "first_name": "客服"},
        "contacts": {"about": "contacts", "list": [{"first_name": "王", "phone_number": "+86 000"}]},
        "chats": {"about": "chats", "list": [telegram_chat(m, name=n, chat_id=i) for n, i, m in chats]},
        "left_chats": {"about": "left", "list": [telegram_chat(m, name=n, chat_id=i) for n, i, m in left]},
        "other_data": {"about": "other", "drafts": [{"text": "未发送的草稿"}]},
    }
    return json.dumps(doc, ensure_ascii=False, indent=1)


# --- WeChat ----------------------------------------------------------------------------------
WECHATMSG_HEADER = [
    "localId",
    "TalkerId",
    "Type",
    "SubType",
    "IsSender",
    "CreateTime",
    "Status",
    "StrContent",
    "StrTime",
    "Remark",
    "NickName",
    "Sender",
]


def wechat_csv(messages: list[Said], *, with_system: bool = True) -> str:
    """WeChatMsg/留痕 CSV (written with utf-8-sig and csv.writer, like the tool)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(WECHATMSG_HEADER)
    for index, said in enumerate(messages):
        local = said.at.astimezone(SHANGHAI)
        writer.writerow(
            [
                index + 1,
                7,
                1,
                0,
                1 if said.sender_id == "wxid_kefu" else 0,
                int(said.at.timestamp()),
                2,
                said.text,
                f"{local:%Y-%m-%d %H:%M:%S}",
                said.sender,
                said.sender + "_nick",
                said.sender_id,
            ]
        )
        if with_system and index == 1:
            writer.writerow(
                [
                    100,
                    7,
                    10000,
                    0,
                    0,
                    int(said.at.timestamp()),
                    2,
                    "王小明撤回了一条消息",
                    f"{local:%Y-%m-%d %H:%M:%S}",
                    "",
                    "",
                    "",
                ]
            )
            writer.writerow(
                [
                    101,
                    7,
                    3,
                    0,
                    0,
                    int(said.at.timestamp()) + 1,
                    2,
                    "",
                    f"{local:%Y-%m-%d %H:%M:%S}",
                    said.sender,
                    said.sender,
                    said.sender_id,
                ]
            )
    return "\ufeff" + out.getvalue()


def wechat_media_row(said: Said) -> Said:
    """The ground truth of the image row wechat_csv writes after the second message."""
    return Said(said.sender, said.sender_id, said.at + timedelta(seconds=1), "")


PYWXDUMP_HEADER = [
    "id",
    "MsgSvrID",
    "type_name",
    "is_sender",
    "talker",
    "room_name",
    "msg",
    "src",
    "CreateTime",
]


def pywxdump_csv(messages: list[Said], room: str = "12345@chatroom") -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(PYWXDUMP_HEADER)
    for index, said in enumerate(messages):
        local = said.at.astimezone(SHANGHAI)
        writer.writerow(
            [index, 9000 + index, "文本", 0, said.sender, room, said.text, "", f"{local:%Y-%m-%d %H:%M:%S}"]
        )
    return out.getvalue()


def wechat_txt(messages: list[Said]) -> str:
    """WeChatMsg/留痕 TXT: ``time name`` line, the text, a blank line; system notes one line."""
    parts: list[str] = []
    for index, said in enumerate(messages):
        local = said.at.astimezone(SHANGHAI)
        parts.append(f"{local:%Y-%m-%d %H:%M:%S} {said.sender}\n{said.text}\n\n")
        if index == 0:
            parts.append(f'{local:%Y-%m-%d %H:%M:%S} "王小明"撤回了一条消息\n\n')
    return "".join(parts)


# --- Slack -----------------------------------------------------------------------------------
def slack_export(root: Path, channel: str, messages: list[Said], *, channel_id: str = "C0SUPPORT") -> None:
    root.mkdir(parents=True, exist_ok=True)
    users = {}
    for said in messages:
        users[said.sender_id] = {
            "id": said.sender_id,
            "name": said.sender_id,
            "real_name": said.sender,
            "profile": {"real_name": said.sender, "display_name": said.sender_id},
        }
    (root / "users.json").write_text(json.dumps(list(users.values()), ensure_ascii=False), "utf-8")
    (root / "channels.json").write_text(json.dumps([{"id": channel_id, "name": channel}]), "utf-8")
    by_day: dict[str, list[dict[str, object]]] = {}
    for index, said in enumerate(messages):
        day = said.at.astimezone(UTC).strftime("%Y-%m-%d")
        by_day.setdefault(day, []).append(
            {
                "type": "message",
                "user": said.sender_id,
                "text": said.text.replace("&", "&amp;"),
                "ts": f"{said.at.timestamp():.0f}.{index:06d}",
            }
        )
    (root / channel).mkdir(exist_ok=True)
    for day, entries in by_day.items():
        entries.insert(
            0,
            {
                "type": "message",
                "subtype": "channel_join",
                "user": messages[0].sender_id,
                "text": "joined",
                "ts": f"{messages[0].at.timestamp() - 5:.0f}.000000",
            },
        )
        (root / channel / f"{day}.json").write_text(
            json.dumps(entries, ensure_ascii=False, indent=4), "utf-8"
        )


# --- generic ---------------------------------------------------------------------------------
def generic_jsonl(messages: list[Said], chat: str = "ticket-88") -> str:
    return "".join(
        json.dumps(
            {
                "conv": {"id": chat},
                "who": said.sender,
                "uid": said.sender_id,
                "ts": said.at.isoformat(),
                "body": said.text,
            },
            ensure_ascii=False,
        )
        + "\n"
        for said in messages
    )


def generic_csv(messages: list[Said]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["时间", "用户", "内容"])
    for said in messages:
        writer.writerow([f"{said.at.astimezone(SHANGHAI):%Y/%m/%d %H:%M:%S}", said.sender, said.text])
    return out.getvalue()


def chat_of(thread_key: str) -> str:
    """The chat of a conversation key ``family:chat[/sender]@start`` (the key before issue 15)."""
    return re.sub(r"(/[^/@]*)?@\d+$", "", thread_key)
