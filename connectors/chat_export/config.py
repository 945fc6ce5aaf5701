"""Settings of the chat-export connector (a watched folder of exported chats)."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.base import ConfigPath, ConnectorConfig

FormatName = Literal["auto", "telegram", "whatsapp", "wechat", "slack", "generic"]
DateOrder = Literal["auto", "dmy", "mdy", "ymd"]
# How a chat splits into conversations (tickets): per sender and quiet gap ("sender"), per quiet
# gap whoever writes ("chat"), or per chat when the export says it is one-to-one, else per
# sender ("auto"). Replies with a reply-to id always join the conversation they answer.
ConversationMode = Literal["auto", "sender", "chat"]


class GenericMapping(BaseModel):
    """Which columns (CSV) or keys (JSONL; dots for nesting) hold which message field.

    ``time_format`` is ``iso``, ``epoch``, ``epoch_ms`` or a :func:`time.strptime` pattern.
    ``chat`` may name a column; without one every row belongs to ``chat_value`` or, if that is
    empty, to a chat named after the file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    created_at: str
    sender: str = ""
    sender_id: str = ""
    chat: str = ""
    chat_value: str = ""
    time_format: str = "iso"
    id: str = ""  # the message's own id (optional: replies name it in ``reply_to``)
    reply_to: str = ""  # the id of the message this one replies to (optional)
    delimiter: str = Field(default=",", min_length=1, max_length=1)

    def required(self) -> list[str]:
        """The columns a file must have to be read with this mapping."""
        return [c for c in (self.text, self.created_at, self.sender, self.sender_id, self.chat) if c]


class ChatExportConfig(ConnectorConfig):
    """A folder (or single file) of chat exports.

    ``format`` forces one parser instead of detecting each file's format from its content.
    ``timezone`` applies to exports whose timestamps carry no zone (WhatsApp, WeChat, old
    Telegram). ``date_order`` forces how WhatsApp's numeric dates are read; ``auto`` decides per
    file. ``min_age_seconds`` leaves files alone until they stopped changing for that long.
    ``conversation_gap_minutes`` and ``conversations`` split a chat into conversations (see
    ``ConversationMode`` and docs/threading.md); ``staff`` messages continue the conversation
    last active in their chat instead of opening their own.
    """

    path: ConfigPath
    format: FormatName = "auto"
    timezone: str = "Asia/Shanghai"
    date_order: DateOrder = "auto"
    mapping: GenericMapping | None = None
    recursive: bool = True
    min_age_seconds: float = Field(default=0.0, ge=0)
    max_quarantine_bytes: int = Field(default=1 << 20, ge=1024)
    conversation_gap_minutes: float = Field(default=30.0, gt=0, le=7 * 24 * 60)
    conversations: ConversationMode = "auto"
    staff: list[str] = Field(default_factory=list)  # sender ids or names of staff who answer

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value
