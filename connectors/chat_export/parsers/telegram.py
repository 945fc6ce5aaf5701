"""Telegram Desktop "Export chat history" JSON (``result.json``), read as a stream.

Handles a single chat (``{"name", "type", "id", "messages": [...]}``) and a full-account export
(``{"chats": {"list": [chat, ...]}, "left_chats": ...}``). ``text`` is a string or an array of
strings and entity objects (``{"type": "bold", "text": ...}``), which are joined to plain text.
Service entries (joins, calls, pins) are skipped. Times come from ``date_unixtime`` when present,
else from ``date`` (local time of the exporting machine: the configured timezone applies).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any, ClassVar

from connectors.chat_export.files import ExportFile
from connectors.chat_export.jsonstream import Truncated
from connectors.chat_export.jsonwalk import Element, JsonWalk
from connectors.chat_export.parsers.base import ChatParser
from connectors.chat_export.records import Broken, Item, ParseSettings, Record, reaction_total

# Telegram chat types with one other party: the whole chat is one conversation per quiet gap.
PRIVATE_TYPES = frozenset({"personal_chat", "bot_chat", "saved_messages"})


def scalar_id(value: Any) -> str:
    """A message id as text; "" for anything that is not a plain number or string."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return ""
    return str(value)[:64]


def flatten_text(text: Any) -> str:
    """Telegram's ``text``: a string, or a list of strings and ``{"type", "text"}`` entities."""
    if isinstance(text, str):
        return text
    if isinstance(text, list):
        return "".join(part if isinstance(part, str) else str(part.get("text", ""))
                       for part in text if isinstance(part, str | dict))
    return ""


def message_time(message: dict[str, Any], settings: ParseSettings) -> datetime | None:
    unix = message.get("date_unixtime")
    if unix not in (None, ""):
        try:
            return datetime.fromtimestamp(int(unix), tz=UTC)
        except (TypeError, ValueError, OverflowError):
            return None
    value = message.get("date")
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=settings.timezone)


class TelegramParser(ChatParser):
    name: ClassVar[str] = "telegram"

    def __init__(self, file: ExportFile, settings: ParseSettings, state: dict[str, Any] | None,
                 context: Any = None) -> None:
        super().__init__(file, settings, state, context)
        self._walk = JsonWalk("root", self.resumed)
        self._last_end: int | None = None

    @classmethod
    def sniff(cls, head: str, file: ExportFile, settings: ParseSettings) -> int:
        stripped = head.lstrip("\ufeff \t\r\n")
        if not stripped.startswith("{"):
            return 0
        if '"messages"' in stripped or '"chats"' in stripped:
            markers = ('"date_unixtime"', '"from_id"', '"text_entities"', '"type": "message"',
                       '"type":"message"', '"personal_information"', '"about"')
            return 80 if any(m in stripped for m in markers) else 40
        return 0

    def state(self) -> dict[str, Any]:
        return self._walk.state()

    def items(self, stream: IO[bytes], offset: int) -> Iterator[Item]:
        self._last_end = None
        try:
            for element in self._walk.elements(stream, offset):
                item = self._record(element)
                if item is not None:
                    self._last_end = element.end
                    yield item
        except Truncated as exc:
            # Resume where the last yielded item ended: the checkpointed walker state is there.
            start = self._last_end if self._last_end is not None else offset
            yield Broken(start, self.file.size, f"Telegram JSON cut off or corrupt: {exc.reason}",
                         tail=True)

    def _record(self, element: Element) -> Item | None:
        message = element.value
        if not isinstance(message, dict):
            return Broken(element.start, element.end, "message entry is not an object")
        if message.get("type", "message") != "message":
            return None  # service entry: joined, phone call, pinned ...
        created = message_time(message, self.settings)
        if created is None:
            return Broken(element.start, element.end, "message without a readable date")
        chat = element.chat
        chat_id = str(chat.get("id") or chat.get("name") or self.settings.default_chat)
        sender_name = message.get("from") or ""
        sender_id = message.get("from_id")
        sender_key = str(sender_id) if sender_id not in (None, "") else str(sender_name)
        return Record(
            chat_id=chat_id,
            chat_name=str(chat.get("name") or ""),
            sender_id=sender_key,
            sender_name=str(sender_name),
            created_at=created,
            text=flatten_text(message.get("text")),
            start=element.start,
            end=element.end,
            likes=reaction_total(message.get("reactions")),
            message_id=scalar_id(message.get("id")),
            reply_to=scalar_id(message.get("reply_to_message_id")),
            private=str(chat.get("type") or "") in PRIVATE_TYPES,
        )

