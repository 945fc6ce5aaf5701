"""WeChat chat exports written by the common desktop export tools (there is no official export).

CSV layouts, recognised by their header:

* WeChatMsg / 留痕 (MemoTrace): ``localId, TalkerId, Type, SubType, IsSender, CreateTime,
  Status, StrContent, StrTime, Remark, NickName, Sender`` - one file per chat named
  ``<remark>_utf8.csv``; ``CreateTime`` is a Unix time, ``Type`` 1 is text, 10000 a system note.
* PyWxDump: ``id, MsgSvrID, type_name, is_sender, talker, room_name, msg, src, CreateTime`` -
  ``room_name`` is the chat, ``talker`` the sender, ``type_name`` a Chinese type label.

TXT layout (WeChatMsg/留痕 "导出 TXT"): a ``2024-01-31 12:00:00 昵称`` line, the message on the
following lines, a blank line; system notes are a single ``time text`` line.

Media messages (图片, 语音, 视频, 表情 ...) are kept with empty text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any, ClassVar

from connectors.chat_export.csvrows import Row, csv_rows
from connectors.chat_export.files import ExportFile, sniff_encoding
from connectors.chat_export.parsers.base import ChatParser
from connectors.chat_export.records import Broken, Item, ParseSettings, Record
from connectors.hygiene import TIME_UNPARSED
from connectors.timeparse import parse_time

WECHATMSG_COLUMNS = ("localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "Status",
                     "StrContent", "StrTime", "Remark", "NickName", "Sender")
PYWXDUMP_COLUMNS = ("id", "MsgSvrID", "type_name", "is_sender", "talker", "room_name", "msg", "src",
                    "CreateTime")
_MEDIA_TYPES = {3, 34, 42, 43, 47, 48, 50}
_MEDIA_NAMES = {"图片", "语音", "视频", "动画表情", "表情", "文件", "位置", "名片", "语音通话", "视频通话"}
_SYSTEM_NAMES = {"系统通知", "系统消息", "拍一拍", "撤回消息"}
MEDIA_PLACEHOLDERS = {"[图片]", "[语音]", "[视频]", "[表情包]", "[文件]", "[动画表情]", "[位置]", "[名片]",
                      "[圖片]", "[語音]", "[視頻]", "[表情]"}
TXT_HEADER = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (.+)")


def chat_from_file(default_chat: str) -> str:
    """WeChatMsg names a chat's CSV ``<remark>_utf8.csv``; the remark is the chat."""
    return default_chat.removesuffix("_utf8")


def local_time(value: str, settings: ParseSettings) -> datetime | None:
    """A Unix time (seconds or milliseconds) or a local date-time; None when unreadable."""
    return parse_time(value, now=datetime.now(UTC), zone=settings.timezone)


def _or_fetch_time(created: datetime | None) -> tuple[datetime, tuple[str, ...]]:
    """An unreadable time never loses the message: the fetch time, flagged."""
    return (created, ()) if created is not None else (datetime.now(UTC), (TIME_UNPARSED,))


def _header_of(head: str) -> list[str]:
    first = head.lstrip("\ufeff").split("\n", 1)[0].strip("\r")
    return [c.strip().strip('"') for c in first.split(",")]


class WeChatCsvParser(ChatParser):
    name: ClassVar[str] = "wechat_csv"

    def __init__(self, file: ExportFile, settings: ParseSettings, state: dict[str, Any] | None,
                 context: Any = None) -> None:
        super().__init__(file, settings, state, context)
        self._columns: list[str] = list(self.resumed.get("columns") or [])
        self._encoding: str = str(self.resumed.get("encoding") or "")

    @classmethod
    def sniff(cls, head: str, file: ExportFile, settings: ParseSettings) -> int:
        header = set(_header_of(head))
        if header >= set(WECHATMSG_COLUMNS) or header >= set(PYWXDUMP_COLUMNS):
            return 90
        return 0

    def state(self) -> dict[str, Any]:
        return {"columns": self._columns, "encoding": self._encoding}

    def items(self, stream: IO[bytes], offset: int) -> Iterator[Item]:
        if not self._encoding:
            stream.seek(0)
            self._encoding, skip = sniff_encoding(stream.read(65536))
            offset = max(offset, skip)
        for row in csv_rows(stream, offset, self._encoding):
            if not self._columns:
                self._columns = [c.strip() for c in row.values]
                continue
            yield from self.guarded(row.start, row.end, functools.partial(self._item, row))

    def _item(self, row: Row) -> Item | None:
        tail = not row.terminated and row.end >= self.file.size
        if not row.error and (not row.values or row.values == [""]):
            return None  # blank line
        if row.error or len(row.values) != len(self._columns):
            reason = row.error or f"{len(row.values)} columns where the header has {len(self._columns)}"
            return Broken(row.start, row.end, reason, tail=tail)
        fields = dict(zip(self._columns, row.values, strict=True))
        if "StrContent" in fields:
            return self._wechatmsg(fields, row)
        return self._pywxdump(fields, row)

    def _wechatmsg(self, fields: dict[str, str], row: Row) -> Item | None:
        kind = int(fields["Type"]) if fields["Type"].strip().isdigit() else 1
        if kind == 10000:
            return None
        created, flags = _or_fetch_time(local_time(fields["CreateTime"], self.settings)
                                        or local_time(fields["StrTime"], self.settings))
        text = fields["StrContent"]
        if kind in _MEDIA_TYPES or (kind == 49 and text.lstrip().startswith("<")):
            text = ""
        sender_id = fields["Sender"] or ("me" if fields["IsSender"] == "1" else "")
        name = fields["Remark"] or fields["NickName"] or sender_id
        chat = chat_from_file(self.settings.default_chat)
        return Record(chat, chat, sender_id, name, created, text, row.start, row.end, flags=flags)

    def _pywxdump(self, fields: dict[str, str], row: Row) -> Item | None:
        kind = fields["type_name"].strip()
        if kind in _SYSTEM_NAMES:
            return None
        created, flags = _or_fetch_time(local_time(fields["CreateTime"], self.settings))
        text = "" if kind in _MEDIA_NAMES else fields["msg"]
        chat = fields["room_name"] or chat_from_file(self.settings.default_chat)
        sender = fields["talker"] or ("me" if fields["is_sender"] == "1" else "")
        return Record(chat, chat, sender, sender, created, text, row.start, row.end, flags=flags)


class WeChatTxtParser(ChatParser):
    name: ClassVar[str] = "wechat_txt"

    def __init__(self, file: ExportFile, settings: ParseSettings, state: dict[str, Any] | None,
                 context: Any = None) -> None:
        super().__init__(file, settings, state, context)
        self._encoding: str = str(self.resumed.get("encoding") or "")

    @classmethod
    def sniff(cls, head: str, file: ExportFile, settings: ParseSettings) -> int:
        lines = head.lstrip("\ufeff").splitlines()
        first = next((i for i, line in enumerate(lines) if line.strip()), None)
        if first is None or not TXT_HEADER.fullmatch(lines[first].rstrip()):
            return 0
        return 50 if sum(1 for line in lines[:200] if TXT_HEADER.fullmatch(line.rstrip())) else 0

    def state(self) -> dict[str, Any]:
        return {"encoding": self._encoding}

    def items(self, stream: IO[bytes], offset: int) -> Iterator[Item]:
        if not self._encoding:
            stream.seek(0)
            self._encoding, skip = sniff_encoding(stream.read(65536))
            offset = max(offset, skip)
        stream.seek(offset)
        position = offset
        pending: tuple[str, str, int] | None = None
        body: list[str] = []
        orphan: int | None = None
        closed = True  # the last line was blank: the record before it is complete
        for raw in stream:
            start, position = position, position + len(raw)
            line = raw.decode(self._encoding, "replace").rstrip("\r\n")
            closed = not line.strip() and raw.endswith(b"\n")
            header = TXT_HEADER.fullmatch(line)
            if header is None:
                if pending is not None:
                    body.append(line)
                elif line.strip() and orphan is None:
                    orphan = start
                continue
            if orphan is not None:
                yield Broken(orphan, start, "lines before the first WeChat message header")
                orphan = None
            if pending is not None:
                yield from self._finish_guarded(pending, body, start)
            pending, body = (header.group(1), header.group(2), start), []
        if pending is not None and not closed:
            # Every record ends with a blank line; without it the file was cut inside the record.
            yield Broken(pending[2], position, "file ends inside a WeChat message (cut off)", tail=True)
        elif pending is not None:
            yield from self._finish_guarded(pending, body, position)
        elif orphan is not None:
            yield Broken(orphan, position, "no WeChat message header found", tail=True)

    def _finish_guarded(self, pending: tuple[str, str, int], body: list[str], end: int) -> list[Item]:
        return self.guarded(pending[2], end, lambda: list(self._finish(pending, body, end)))

    def _finish(self, pending: tuple[str, str, int], body: list[str], end: int) -> Iterator[Item]:
        stamp, sender, start = pending
        while body and not body[-1].strip():
            body.pop()
        if not body:
            return  # a one-line system note ("xx撤回了一条消息")
        created, flags = _or_fetch_time(local_time(stamp, self.settings))
        text = "\n".join(body)
        if text.strip() in MEDIA_PLACEHOLDERS:
            text = ""
        chat = chat_from_file(self.settings.default_chat)
        yield Record(chat, chat, sender, sender, created, text, start, end, flags=flags)
