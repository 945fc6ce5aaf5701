"""WhatsApp "Export chat" text files, in the date/time layouts of its locales.

A message starts with a header line: ``31/12/23, 21:05 - Name: text`` (Android) or
``[31/12/23 21:05:09] Name: text`` (iOS), with ``/ . -`` date separators, day-month-year,
month-day-year or year-month-day order, 24-hour or 12-hour clocks (``PM``, ``p. m.``, ``下午``).
Lines without a header continue the previous message. Headers without ``Name:`` are system lines
(group created, member added, encryption notice) and are skipped.

Whether ``01/02/23`` is 1 February or 2 January is decided once per file: orders that produce an
impossible date anywhere in the sample are ruled out, then the order under which the dates run
most chronologically wins, then the configured or default order (day first). The decision is
kept in the checkpoint so an appended file is read the same way.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import IO, Any, ClassVar

from connectors.chat_export.files import ExportFile, sniff_encoding
from connectors.chat_export.parsers.base import ChatParser
from connectors.chat_export.records import Broken, Item, ParseSettings, Record
from connectors.hygiene import INVALID_BYTES, TIME_UNPARSED

_SP = "[ \u202f\u00a0]"
HEADER = re.compile(
    r"\u200e?(?P<br>\[)?(?P<a>\d{1,4})(?P<sep>[./\-])(?P<b>\d{1,2})(?P=sep)(?P<c>\d{1,4}),?" + _SP
    + r"(?:(?P<pre>上午|下午|AM|PM)" + _SP + r"?)?"
    r"(?P<H>\d{1,2})[:.](?P<M>\d{2})(?:[:.](?P<S>\d{2}))?"
    r"(?:" + _SP + r"?(?P<post>[aApP]\.?" + _SP + r"?[mM]\.?|上午|下午))?"
    r"(?(br)\]" + _SP + r"?|" + _SP + r"[-–]" + _SP + r")"
)
# A last line that starts like a header but is not one: the file was cut inside a header.
_PARTIAL_HEADER = re.compile(
    r"\u200e?\[?\d{1,4}[./\-]\d{1,2}[./\-]\d{0,4}(?:,?[ ]?(?:\d{1,2}(?:[:.]\d{0,2}"
    r"(?:[:.]\d{0,2})?)?)?)?"
)
ORDERS = ("dmy", "mdy", "ymd")
_SAMPLE_HEADERS = 20000

SYSTEM_PREFIXES = (
    "Messages and calls are end-to-end encrypted",
    "Messages you send to this group are now secured",
    "Messages to this group are now secured",
    "消息和通话已进行端到端加密",
    "訊息和通話已端對端加密",
    "訊息及通話均經端對端加密",
)
# What WhatsApp writes instead of a photo, video, voice note or file in a text-only export, per
# locale: Android wraps it in angle brackets (some builds use U+2039 "‹" for the first one),
# iOS writes "<kind> omitted" / "<attached: file>", and names files "(file attached)".
_OPEN, _CLOSE = "[<‹〈＜]", "[>›〉＞]"
_MEDIA = re.compile(
    r"[\u200e\u200f]?(?:"
    + _OPEN + r"(?:Media omitted|media omitted|Medien ausgelassen|Multimedia omitido|Média omis"
    r"|Mídia omitida|Media weggelaten|省略影音内容|省略影音內容|影音內容已略去|影音内容已略去"
    r"|已省略多媒體檔案|已省略多媒体文件|省略媒体文件|媒体文件已忽略|媒體檔案已略去"
    r"|(?:附件|已附加|attached)\s*[:：][^>›〉＞]*)" + _CLOSE
    + r"|(?:image|video|audio|sticker|GIF|document|Contact card) omitted"
    r"|(?:图片|圖片|图像|影像|影片|视频|視訊|音訊|音频|音頻|贴图|貼圖|文件|檔案|文檔|GIF)已(?:略去|省略|忽略)"
    r"|[^\n]* \((?:file attached|文件附件|檔案已附加|已附加檔案)\))"
)


def _is_pm(marker: str | None) -> bool | None:
    if not marker:
        return None
    return marker.startswith(("p", "P", "下"))


def _year(value: int) -> int:
    return value + 2000 if value < 100 else value


def resolve(triple: tuple[str, str, str], order: str) -> tuple[int, int, int] | None:
    """``(year, month, day)`` of a header's three date fields under ``order``, or None."""
    a, b, c = triple
    if order == "ymd":
        year, month, day = int(a), int(b), int(c)
    elif order == "mdy":
        month, day, year = int(a), int(b), int(c)
    else:
        day, month, year = int(a), int(b), int(c)
    year = _year(year)
    try:
        date(year, month, day)
    except ValueError:
        return None
    return year, month, day


def choose_order(triples: list[tuple[str, str, str]], preferred: str, *, today: date | None = None) -> str:
    """The date order that reads the sample dates best: fewest impossible dates (31/02, or later
    than tomorrow), then the most chronological, then ``preferred``.

    One impossible line (a corrupted header, a hand-edited export) must not rule an order out:
    ``28/02/24 .. 31/02/24 .. 01/03/24`` is still day-first, not the years 2028 and 2031."""
    candidates = list(ORDERS)
    if any(len(t[0]) >= 3 for t in triples):
        candidates = ["ymd"]
    elif any(len(t[2]) >= 3 for t in triples):
        candidates = ["dmy", "mdy"]
    latest = (today or date.today()).toordinal() + 1

    def read(order: str) -> list[tuple[int, int, int] | None]:
        dates = [resolve(t, order) for t in triples]
        return [d if d is not None and date(*d).toordinal() <= latest else None for d in dates]

    def rank(order: str) -> tuple[int, int, bool, int]:
        dates = read(order)
        impossible = sum(1 for d in dates if d is None)
        known = [d for d in dates if d is not None]
        disorder = sum(1 for x, y in itertools.pairwise(known) if y < x)
        return impossible, disorder, order != preferred, ORDERS.index(order)

    return min(candidates, key=rank)


def chat_name_from_file(stem: str) -> str:
    """``WhatsApp Chat with Ann (2)`` -> ``Ann``: the chat's name as WhatsApp writes it."""
    name = re.sub(r"\s*\(\d+\)$", "", stem)
    for prefix in ("WhatsApp Chat with ", "WhatsApp Chat - ", "WhatsApp Chat – "):
        if name.startswith(prefix):
            return name[len(prefix):] or stem
    match = re.fullmatch(r"(?:与|與)(.+?)的\s*WhatsApp\s*(?:聊天|對話|对话)(?:记录|紀錄)?", name)
    return match.group(1) if match else name


class WhatsAppParser(ChatParser):
    name: ClassVar[str] = "whatsapp"

    def __init__(self, file: ExportFile, settings: ParseSettings, state: dict[str, Any] | None,
                 context: Any = None) -> None:
        super().__init__(file, settings, state, context)
        self._order: str = str(self.resumed.get("order", ""))
        self._encoding: str = str(self.resumed.get("encoding", ""))
        self._dates: dict[tuple[str, str, str], tuple[int, int, int] | None] = {}
        self._replaced = False  # the pending message had bytes invalid in the encoding (now U+FFFD)

    @classmethod
    def sniff(cls, head: str, file: ExportFile, settings: ParseSettings) -> int:
        lines = [line for line in head.splitlines()[:50] if line.strip()]
        if not lines:
            return 0
        hits = sum(1 for line in lines if HEADER.match(line))
        if hits == 0 or not HEADER.match(lines[0]):
            return 0
        return 60 if hits * 2 >= min(len(lines), 10) else 30

    def state(self) -> dict[str, Any]:
        return {"order": self._order, "encoding": self._encoding}

    def _prepare(self, stream: IO[bytes], offset: int) -> int:
        stream.seek(0)
        head = stream.read(65536)
        skip = 0
        if not self._encoding:
            self._encoding, skip = sniff_encoding(head)
        if not self._order:
            self._order = self._decide_order(stream)
        return max(offset, skip)

    def _decide_order(self, stream: IO[bytes]) -> str:
        preferred = self.settings.date_order
        if preferred in ORDERS:
            return preferred
        stream.seek(0)
        triples: list[tuple[str, str, str]] = []
        for raw in stream:
            match = HEADER.match(raw.decode(self._encoding, "replace"))
            if match:
                triples.append((match["a"], match["b"], match["c"]))
                if len(triples) >= _SAMPLE_HEADERS:
                    break
        return choose_order(triples, "dmy")

    def _date(self, triple: tuple[str, str, str]) -> tuple[int, int, int] | None:
        try:
            return self._dates[triple]
        except KeyError:
            value = self._dates[triple] = resolve(triple, self._order)
            return value

    def items(self, stream: IO[bytes], offset: int) -> Iterator[Item]:
        offset = self._prepare(stream, offset)
        stream.seek(offset)
        encoding, match_header = self._encoding, HEADER.match
        pending: tuple[re.Match[str], int] | None = None
        body: list[str] = []
        position = offset
        orphan_start: int | None = None
        last_line = ""
        self._replaced = False
        for raw in stream:
            start, position = position, position + len(raw)
            replaced = False
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError:
                if position >= self.file.size and not raw.endswith(b"\n"):
                    if pending is not None:
                        yield from self._finish_guarded(pending, body, start)
                        pending = None
                    yield Broken(start, position, "file ends inside a character (cut off)", tail=True)
                    return
                line = raw.decode(encoding, "replace")
                replaced = True
            line = line.rstrip("\r\n")
            last_line = line if not raw.endswith(b"\n") else ""
            header = match_header(line)
            if header is None:
                if pending is not None:
                    body.append(line)
                    self._replaced = self._replaced or replaced
                elif orphan_start is None:
                    orphan_start = start
                continue
            if orphan_start is not None:
                yield Broken(orphan_start, start, "lines before the first message header")
                orphan_start = None
            if pending is not None:
                yield from self._finish_guarded(pending, body, start)
            pending, body = (header, start), [line[header.end():]]
            self._replaced = replaced
        if pending is not None:
            end = position
            if last_line and len(body) > 1 and _PARTIAL_HEADER.fullmatch(last_line):
                # Cut off inside the next message's header: keep the complete part.
                end = position - len(last_line.encode(encoding))
                body.pop()
                yield from self._finish_guarded(pending, body, end)
                yield Broken(end, position, "file ends inside a message header (cut off)", tail=True)
                return
            yield from self._finish_guarded(pending, body, end)
        elif orphan_start is not None:
            yield Broken(orphan_start, position, "no WhatsApp message header found", tail=True)

    def _finish_guarded(self, pending: tuple[re.Match[str], int], body: list[str], end: int) -> list[Item]:
        return self.guarded(pending[1], end, lambda: list(self._finish(pending, body, end)))

    def _finish(self, pending: tuple[re.Match[str], int], body: list[str], end: int) -> Iterator[Item]:
        header, start = pending
        if any("\x00" in line for line in body):
            # A text export never holds NUL: binary data (a media file, a broken sync) was spliced in.
            yield Broken(start, end, "binary data (NUL bytes) inside a WhatsApp message")
            return
        when = self._when(header)
        flags: tuple[str, ...] = (INVALID_BYTES,) if self._replaced else ()
        if when is None:  # 31/02/24 or 25:00: the message is kept at the fetch time, flagged
            when = datetime.now(UTC)
            flags += (TIME_UNPARSED,)
        first = body[0]
        colon = first.find(":")
        author = first[:colon] if colon > 0 else ""
        if not author or len(author) > 80 or '"' in author or "“" in author:
            return  # a system line: group created, member added, number changed ...
        text = first[colon + 1:]
        if text.startswith(" "):
            text = text[1:]
        if len(body) > 1:
            text = "\n".join([text, *body[1:]])
        if text.lstrip("\u200e").startswith(SYSTEM_PREFIXES):  # iOS marks notices with U+200E
            return
        if _MEDIA.fullmatch(text):
            text = ""
        chat = self.settings.default_chat
        yield Record(chat, chat, author, author, when, text, start, end, flags=flags)

    def _when(self, header: re.Match[str]) -> datetime | None:
        """The header's date and time in the export's zone; None for an impossible one."""
        ymd = self._date((header["a"], header["b"], header["c"]))
        if ymd is None:
            return None
        hour, minute = int(header["H"]), int(header["M"])
        second = int(header["S"]) if header["S"] else 0
        pm = _is_pm(header["pre"] or header["post"])
        if pm is not None:
            hour = hour % 12 + (12 if pm else 0)
        if hour > 23 or minute > 59 or second > 59:
            return None
        return datetime(*ymd, hour, minute, second, tzinfo=self.settings.timezone)
