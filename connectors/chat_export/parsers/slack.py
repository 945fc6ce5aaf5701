"""Slack workspace exports: a zip or folder with ``users.json``, ``channels.json`` and one folder
per channel holding a JSON array of that day's messages (``general/2024-01-31.json``).

Each day file is read as a stream like Telegram's export. User ids are resolved to names from
``users.json``; the chat is the channel id from ``channels.json`` (``groups.json``, ``mpims.json``
and ``dms.json`` for private channels and direct messages). Join/leave/topic and similar events
are skipped; bot posts are kept (integrations often relay customer feedback), with the text of
their attachments when the message text is empty.
"""

from __future__ import annotations

import html
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from connectors.chat_export.files import ExportFile
from connectors.chat_export.jsonstream import TOO_DEEP
from connectors.chat_export.jsonwalk import Element
from connectors.chat_export.parsers.base import JsonWalkParser
from connectors.chat_export.parsers.telegram import plain_id
from connectors.chat_export.records import Broken, Item, ParseSettings, Record, reaction_total
from connectors.hygiene import TIME_UNPARSED, require_text, scalar_id
from connectors.timeparse import resolve_time

SKIPPED_SUBTYPES = frozenset({
    "channel_join", "channel_leave", "channel_topic", "channel_purpose", "channel_name",
    "channel_archive", "channel_unarchive", "group_join", "group_leave", "group_topic",
    "group_purpose", "group_name", "group_archive", "group_unarchive", "bot_add", "bot_remove",
    "pinned_item", "unpinned_item", "tombstone", "joiner_notification_for_inviter",
})
_CONVERSATION_FILES = ("channels.json", "groups.json", "mpims.json", "dms.json")
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?|mailto|ftp):[^>|]+)(?:\|([^>]*))?>")


@dataclass(frozen=True, slots=True)
class SlackContext:
    """Names from the export's metadata files."""

    users: dict[str, str]
    conversations: dict[str, tuple[str, str]]  # folder name -> (conversation id, name)
    direct: frozenset[str] = frozenset()  # folders of one-to-one direct messages (dms.json)


def _read_members(file: ExportFile, prefix: str, names: tuple[str, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    with zipfile.ZipFile(file.path) as archive:
        members = set(archive.namelist())
        for name in names:
            if prefix + name in members:
                found[name] = json.loads(archive.read(prefix + name))
    return found


def _read_folder(folder: Path, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: json.loads((folder / n).read_bytes()) for n in names if (folder / n).is_file()}


def load_slack_context(root: Path, file: ExportFile) -> SlackContext:
    """Users and conversations of the Slack export that ``file`` belongs to."""
    names = ("users.json", *_CONVERSATION_FILES)
    assert file.slack_root is not None
    if file.member is not None:
        docs = _read_members(file, file.slack_root.split("!", 1)[1], names)
    else:
        base = root if root.is_dir() else root.parent
        docs = _read_folder(base / file.slack_root, names)
    users: dict[str, str] = {}
    for user in docs.get("users.json") or []:
        profile = user.get("profile") or {}
        users[str(user.get("id"))] = str(
            user.get("real_name") or profile.get("real_name") or profile.get("display_name")
            or user.get("name") or user.get("id")
        )
    conversations: dict[str, tuple[str, str]] = {}
    direct: set[str] = set()
    for name in _CONVERSATION_FILES:
        for conv in docs.get(name) or []:
            conv_id = str(conv.get("id", ""))
            folder = str(conv.get("name") or conv_id)
            conversations[folder] = (conv_id or folder, folder)
            if name == "dms.json":
                direct.add(folder)
    return SlackContext(users, conversations, frozenset(direct))


def _thread_parent(message: dict[str, Any]) -> str:
    """``thread_ts`` of a threaded reply (the parent's ``ts``); "" for a parent or a plain post."""
    parent = plain_id(message.get("thread_ts"))
    return parent if parent and parent != plain_id(message.get("ts")) else ""


def render(text: str, users: dict[str, str]) -> str:
    """Slack mrkdwn to plain text: mentions to names, links to their label, entities unescaped."""
    text = _USER.sub(lambda m: "@" + (m.group(2) or users.get(m.group(1), m.group(1))), text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or m.group(1)), text)
    text = _SPECIAL.sub(lambda m: "@" + m.group(1), text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    return html.unescape(text)


class SlackParser(JsonWalkParser):
    name: ClassVar[str] = "slack"
    walk_root: ClassVar[str] = "msgs"
    cut_off: ClassVar[str] = "Slack day file cut off or corrupt"

    def __init__(self, file: ExportFile, settings: ParseSettings, state: dict[str, Any] | None,
                 context: Any = None) -> None:
        super().__init__(file, settings, state, context)
        self._context = context if isinstance(context, SlackContext) else SlackContext({}, {})
        folder = PurePosixPath(file.member or file.key).parent.name
        self._chat_id, self._chat_name = self._context.conversations.get(folder, (folder, folder))
        self._private = folder in self._context.direct

    @classmethod
    def sniff(cls, head: str, file: ExportFile, settings: ParseSettings) -> int:
        stripped = head.lstrip("\ufeff \t\r\n")
        if stripped.startswith("[") and '"ts"' in stripped and '"type"' in stripped:
            return 50
        return 0

    def _text(self, message: dict[str, Any]) -> str:
        text = require_text(message.get("text"), "text", allow_empty=True)
        if not text.strip():
            parts = []
            for attachment in message.get("attachments") or []:
                if isinstance(attachment, dict):
                    part = attachment.get("pretext") or attachment.get("text") or attachment.get("fallback")
                    if part:
                        parts.append(str(part))
            text = "\n".join(parts)
        return render(text, self._context.users)

    def _record(self, element: Element) -> Item | None:
        message = element.value
        if message is TOO_DEEP:
            return Broken(element.start, element.end, "Slack message nested too deeply to read")
        if not isinstance(message, dict):
            return Broken(element.start, element.end, "Slack message is not an object")
        if message.get("type", "message") != "message" or message.get("subtype") in SKIPPED_SUBTYPES:
            return None
        created, flags = resolve_time(message.get("ts"), now=datetime.now(UTC), zone=UTC)
        if message.get("ts") in (None, ""):
            flags = (TIME_UNPARSED,)
        sender_id = scalar_id(message.get("user"), "user") or scalar_id(message.get("bot_id"), "bot_id")
        profile = message.get("user_profile") or {}
        sender_name = (self._context.users.get(sender_id) or message.get("username")
                       or profile.get("real_name") or sender_id)
        replies = message.get("reply_count")
        return Record(
            chat_id=self._chat_id,
            chat_name=self._chat_name,
            sender_id=sender_id,
            sender_name=str(sender_name),
            created_at=created,
            text=self._text(message),
            start=element.start,
            end=element.end,
            likes=reaction_total(message.get("reactions")),
            replies=replies if isinstance(replies, int) else 0,
            message_id=plain_id(message.get("ts")),
            reply_to=_thread_parent(message),
            private=self._private,
            flags=flags,
        )
