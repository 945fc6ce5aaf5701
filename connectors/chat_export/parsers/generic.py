"""Any CSV or JSONL chat log, read through the column mapping in the source's configuration.

Only used when ``mapping`` is configured and the file has the mapped columns (CSV header) or keys
(first JSONL object; ``a.b`` reaches into nested objects).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any, ClassVar

from connectors.chat_export.config import GenericMapping
from connectors.chat_export.csvrows import csv_rows
from connectors.chat_export.files import ExportFile, sniff_encoding
from connectors.chat_export.parsers.base import ChatParser
from connectors.chat_export.records import Broken, Item, ParseSettings, Record


def _lookup(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def parse_time(value: Any, mapping: GenericMapping, settings: ParseSettings) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        if mapping.time_format in ("epoch", "epoch_ms"):
            number = float(value) / (1000 if mapping.time_format == "epoch_ms" else 1)
            return datetime.fromtimestamp(number, tz=UTC)
        text = str(value).strip()
        parsed = (datetime.fromisoformat(text) if mapping.time_format == "iso"
                  else datetime.strptime(text, mapping.time_format))
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=settings.timezone)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _id(value: Any) -> str:
    """A mapped id column as text ("" when missing, empty or not a plain value)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return ""
    return str(int(value) if isinstance(value, float) and value.is_integer() else value).strip()[:64]


class GenericParser(ChatParser):
    name: ClassVar[str] = "generic"

    def __init__(self, file: ExportFile, settings: ParseSettings, state: dict[str, Any] | None,
                 context: Any = None) -> None:
        super().__init__(file, settings, state, context)
        self._layout: str = str(self.resumed.get("layout") or "")
        self._columns: list[str] = list(self.resumed.get("columns") or [])
        self._encoding: str = str(self.resumed.get("encoding") or "")

    @classmethod
    def sniff(cls, head: str, file: ExportFile, settings: ParseSettings) -> int:
        mapping = settings.mapping
        if mapping is None:
            return 0
        first = head.lstrip("\ufeff \t\r\n").split("\n", 1)[0].strip()
        if first.startswith("{"):
            try:
                obj = json.loads(first)
            except ValueError:
                return 0
            return 40 if all(_lookup(obj, c) is not None for c in mapping.required()) else 0
        header = {c.strip().strip('"') for c in first.split(mapping.delimiter)}
        return 40 if set(mapping.required()) <= header else 0

    def state(self) -> dict[str, Any]:
        return {"layout": self._layout, "columns": self._columns, "encoding": self._encoding}

    def _mapping(self) -> GenericMapping:
        if self.settings.mapping is None:
            raise ValueError("the generic format needs a column mapping in the source config")
        return self.settings.mapping

    def items(self, stream: IO[bytes], offset: int) -> Iterator[Item]:
        mapping = self._mapping()
        if not self._encoding:
            stream.seek(0)
            head = stream.read(65536)
            self._encoding, skip = sniff_encoding(head)
            offset = max(offset, skip)
            self._layout = "jsonl" if head[skip:].lstrip().startswith(b"{") else "csv"
        if self._layout == "jsonl":
            yield from self._jsonl(stream, offset, mapping)
        else:
            yield from self._csv(stream, offset, mapping)

    def _record(self, get: Any, start: int, end: int, mapping: GenericMapping) -> Item:
        created = parse_time(get(mapping.created_at), mapping, self.settings)
        if created is None:
            return Broken(start, end, f"no readable time in {mapping.created_at!r}")
        chat = _text(get(mapping.chat)) if mapping.chat else ""
        chat = chat or mapping.chat_value or self.settings.default_chat
        sender = _text(get(mapping.sender)) if mapping.sender else ""
        sender_id = (_text(get(mapping.sender_id)) if mapping.sender_id else "") or sender
        return Record(chat, chat, sender_id, sender, created, _text(get(mapping.text)), start, end,
                      message_id=_id(get(mapping.id)) if mapping.id else "",
                      reply_to=_id(get(mapping.reply_to)) if mapping.reply_to else "")

    def _jsonl(self, stream: IO[bytes], offset: int, mapping: GenericMapping) -> Iterator[Item]:
        stream.seek(offset)
        position = offset
        for raw in stream:
            start, position = position, position + len(raw)
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode(self._encoding))
            except (ValueError, UnicodeDecodeError) as exc:
                cut = not raw.endswith(b"\n") and position >= self.file.size
                yield Broken(start, position, f"invalid JSON line: {exc}", tail=cut)
                continue
            if not isinstance(obj, dict):
                yield Broken(start, position, "JSON line is not an object")
                continue
            yield self._record(lambda key, o=obj: _lookup(o, key), start, position, mapping)

    def _csv(self, stream: IO[bytes], offset: int, mapping: GenericMapping) -> Iterator[Item]:
        for row in csv_rows(stream, offset, self._encoding, mapping.delimiter):
            if not self._columns:
                self._columns = [c.strip() for c in row.values]
                continue
            if not row.error and (not row.values or row.values == [""]):
                continue
            if row.error or len(row.values) != len(self._columns):
                tail = not row.terminated and row.end >= self.file.size
                yield Broken(row.start, row.end, row.error or "column count differs from the header",
                             tail=tail)
                continue
            fields = dict(zip(self._columns, row.values, strict=True))
            yield self._record(fields.get, row.start, row.end, mapping)
