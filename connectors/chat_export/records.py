"""What a chat-export parser yields, and the settings every parser reads.

Parsers turn bytes into :class:`Record` (one chat message with its byte span in the file) or
:class:`Broken` (a span that could not be parsed). The connector turns records into
:class:`~monitor.message.Message` objects; parsers never build messages or ids themselves, so
every format gets the same id scheme and checkpoint handling.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, TypeAlias

from connectors.chat_export.config import GenericMapping


@dataclass(frozen=True, slots=True)
class Record:
    """One chat message as read from an export.

    ``start``/``end`` are byte offsets in the file: ``end`` is where parsing resumes after this
    record, so it is also the checkpoint offset once the record is stored.
    """

    chat_id: str
    chat_name: str
    sender_id: str
    sender_name: str
    created_at: datetime
    text: str
    start: int
    end: int
    likes: int = 0
    replies: int = 0
    # Threading (docs/threading.md): the message's id in its export, the id it replies to, and
    # whether the chat is known to be one-to-one (one conversation per quiet gap, not per sender),
    # or known to be a group (a group where only two people spoke is still per sender).
    message_id: str = ""
    reply_to: str = ""
    private: bool = False
    group: bool = False
    flags: tuple[str, ...] = ()  # Message.flags: time-unparsed, invalid-bytes-replaced


@dataclass(frozen=True, slots=True)
class Broken:
    """Bytes ``[start, end)`` that are not a message: quarantined with ``reason``.

    ``tail`` marks input cut off at the end of the file (a truncated or still-growing export):
    the checkpoint stays at ``start`` so the rest is read again once the file changes.
    """

    start: int
    end: int
    reason: str
    tail: bool = False


Item: TypeAlias = Record | Broken


def reaction_total(reactions: Any) -> int:
    """Sum of ``count`` over a list of reaction objects (Telegram and Slack both use it)."""
    if not isinstance(reactions, list):
        return 0
    return sum(r["count"] for r in reactions if isinstance(r, dict) and isinstance(r.get("count"), int))


@dataclass(frozen=True, slots=True)
class ParseSettings:
    """Settings a parser needs besides the bytes.

    ``default_chat`` is the chat id to use when the export itself names none (a WhatsApp ``.txt``
    is one chat whose name is only in the file name). ``timezone`` applies to timestamps that
    carry no zone.
    """

    timezone: tzinfo
    default_chat: str
    date_order: str = "auto"
    mapping: GenericMapping | None = None
