"""Telegram Desktop "Export chat history" JSON (``result.json``), read as a stream.

Handles a single chat (``{"name", "type", "id", "messages": [...]}``) and a full-account export
(``{"chats": {"list": [chat, ...]}, "left_chats": ...}``). ``text`` is a string or an array of
strings and entity objects (``{"type": "bold", "text": ...}``), which are joined to plain text.
Service entries (joins, calls, pins) are skipped. Times come from ``date_unixtime`` when present,
else from ``date`` (local time of the exporting machine: the configured timezone applies).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from connectors.chat_export.files import ExportFile
from connectors.chat_export.jsonstream import TOO_DEEP
from connectors.chat_export.jsonwalk import Element
from connectors.chat_export.parsers.base import JsonWalkParser
from connectors.chat_export.records import Broken, Item, ParseSettings, Record, reaction_total
from connectors.hygiene import TIME_UNPARSED, optional_text, require_text, scalar_id
from connectors.timeparse import parse_time

# Telegram chat types with one other party: the whole chat is one conversation per quiet gap.
PRIVATE_TYPES = frozenset({"personal_chat", "bot_chat", "saved_messages"})
GROUP_TYPES = frozenset({"private_group", "private_supergroup", "public_supergroup", "public_channel",
                         "private_channel"})


def plain_id(value: Any) -> str:
    """A message id used only as a threading hint, as text; "" for anything that is not a plain
    number or string (an odd reply id never costs the message)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return ""
    return str(value)[:64]


def flatten_text(text: Any) -> str:
    """Telegram's ``text``: a string, or a list of strings and ``{"type", "text"}`` entities.

    Anything else (a number, an object, an entity whose ``text`` is not a string) is not a
    message text: BadInputError, so the message is quarantined with the reason.
    """
    if text is None:
        return ""
    if isinstance(text, list):
        parts = []
        for part in text:
            if isinstance(part, dict):
                part = require_text(part.get("text"), "text entity", allow_empty=True)
            parts.append(require_text(part, "text part", allow_empty=True))
        return "".join(parts)
    return require_text(text, "text", allow_empty=True)


def message_time(message: dict[str, Any], settings: ParseSettings) -> tuple[datetime, tuple[str, ...]]:
    """``date_unixtime`` (UTC), else ``date`` (local time of the exporting machine); the fetch
    time with the ``time-unparsed`` flag when neither can be read."""
    now = datetime.now(UTC)
    for key in ("date_unixtime", "date"):
        value = message.get(key)
        if value not in (None, ""):
            parsed = parse_time(value, now=now, zone=settings.timezone)
            if parsed is not None:
                return parsed, ()
    return now, (TIME_UNPARSED,)


class TelegramParser(JsonWalkParser):
    name: ClassVar[str] = "telegram"
    walk_root: ClassVar[str] = "root"
    cut_off: ClassVar[str] = "Telegram JSON cut off or corrupt"

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

    def _record(self, element: Element) -> Item | None:
        message = element.value
        if message is TOO_DEEP:
            return Broken(element.start, element.end, "message nested too deeply to read")
        if not isinstance(message, dict):
            return Broken(element.start, element.end, "message entry is not an object")
        if message.get("type", "message") != "message":
            return None  # service entry: joined, phone call, pinned ...
        created, flags = message_time(message, self.settings)
        chat = element.chat
        chat_id = str(chat.get("id") or chat.get("name") or self.settings.default_chat)
        sender_name = optional_text(message.get("from"), "from")
        sender_key = scalar_id(message.get("from_id"), "from_id") or sender_name
        return Record(
            chat_id=chat_id,
            chat_name=str(chat.get("name") or ""),
            sender_id=sender_key,
            sender_name=sender_name,
            created_at=created,
            text=flatten_text(message.get("text")),
            start=element.start,
            end=element.end,
            likes=reaction_total(message.get("reactions")),
            message_id=plain_id(message.get("id")),
            reply_to=plain_id(message.get("reply_to_message_id")),
            private=str(chat.get("type") or "") in PRIVATE_TYPES,
            group=str(chat.get("type") or "") in GROUP_TYPES,
            flags=flags,
        )

