"""The chat-export connector: a watched folder of exported chats, read incrementally.

Every file (or zip member) has its own checkpoint entry: the byte offset after the last stored
message, a fingerprint of the bytes before it, the parser's resume state and the id counters. A
file that grew and still starts the same is read on from its offset; a file that changed in
any other way is read again from the start and storage drops what it already has (ids are
stable). Input that cannot be parsed is quarantined with its raw bytes; a file that ends inside a
record keeps its offset before that record, so the rest is read once the file is complete.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import structlog

from connectors.base import Connector
from connectors.chat_export.config import ChatExportConfig
from connectors.chat_export.conversations import Conversations, two_party_chats
from connectors.chat_export.detect import PARSERS, detect
from connectors.chat_export.files import ExportFile, discover
from connectors.chat_export.ids import StableIds
from connectors.chat_export.parsers.base import ChatParser
from connectors.chat_export.parsers.slack import SlackContext, load_slack_context
from connectors.chat_export.parsers.whatsapp import chat_name_from_file
from connectors.chat_export.records import Broken, ParseSettings, Record
from connectors.guard import failure_reason, guarded, is_source_error
from connectors.paths import require_path
from monitor.message import Author, Batch, Checkpoint, Engagement, Message, Quarantined

log = structlog.get_logger(__name__)
CHECKPOINT_VERSION = 1


def _family(parser_name: str) -> str:
    return parser_name.split("_", 1)[0]


class ChatExportConnector(Connector[ChatExportConfig]):
    """Reads Telegram, WhatsApp, WeChat, Slack and mapped CSV/JSONL exports from a folder."""

    kind: ClassVar[str] = "chat_export"
    channel: ClassVar[str] = "chat"
    Config: ClassVar[type[ChatExportConfig]] = ChatExportConfig

    def __init__(self, name: str, config: ChatExportConfig) -> None:
        super().__init__(name, config)
        self._zone = ZoneInfo(config.timezone)
        self._staff = frozenset(config.staff)

    def check(self) -> list[str]:
        path = self.config.path
        if not path.exists():
            return [f"path {path} does not exist"]
        if not os.access(path, os.R_OK | (os.X_OK if path.is_dir() else 0)):
            return [f"path {path} is not readable"]
        return []

    def files(self) -> list[ExportFile]:
        """The export files currently in the watched path."""
        return discover(self.config.path, recursive=self.config.recursive)

    def fetch(
        self,
        checkpoint: Checkpoint | None,
        *,
        batch_size: int = 500,
        stop: threading.Event | None = None,
    ) -> Iterator[Batch]:
        path = self.config.path
        require_path(path, what="chat export source", kind="dir" if path.is_dir() else "file")
        files = self.files()
        states: dict[str, Any] = dict((checkpoint or {}).get("files") or {})
        run = _Run(self, states, max(1, batch_size))
        present = {f.key for f in files}
        for gone in [key for key in states if key not in present]:
            del states[gone]  # deleted files: forget them (a file put back is read again, deduplicated)
            run.dirty = True
        now = time.time()
        for file in files:
            if stop is not None and stop.is_set():
                break
            previous = states.get(file.key)
            if _unchanged(previous, file):
                continue
            if self.config.min_age_seconds and now - file.mtime_ns / 1e9 < self.config.min_age_seconds:
                continue
            yield from run.read(file, previous, stop)
        yield from run.flush(final=True)

    # -- helpers used by _Run -------------------------------------------------------------
    def settings_for(self, file: ExportFile) -> ParseSettings:
        return ParseSettings(
            timezone=self._zone,
            default_chat=chat_name_from_file(file.container_stem),
            date_order=self.config.date_order,
            mapping=self.config.mapping,
        )

    def message(self, record: Record, family: str, ids: StableIds, file: ExportFile,
                conversations: Conversations) -> Message:
        millis = round(record.created_at.timestamp() * 1000)
        staff = record.sender_id in self._staff or record.sender_name in self._staff
        conversation = conversations.key(record.chat_id, record.sender_id, millis, staff=staff,
                                         private=record.private)
        chat_ref = f"{family}:{record.chat_id}#"
        return Message(
            source=self.name,
            external_id=ids.assign(record.chat_id, millis, record.sender_id, record.text),
            thread_key=f"{family}:{conversation}",
            ref_id=chat_ref + record.message_id if record.message_id else "",
            refs=(chat_ref + record.reply_to,) if record.reply_to else (),
            is_reply=bool(record.reply_to),
            text=record.text,
            created_at=record.created_at,
            channel=self.channel,
            author=Author(id=record.sender_id, display_name=record.sender_name),
            title=record.chat_name,
            engagement=Engagement(likes=record.likes, replies=record.replies),
            raw_ref=f"{file.key}@{record.start}",
            flags=record.flags,
        )

    def quarantine(self, broken: Broken, file: ExportFile) -> Quarantined:
        end = min(broken.end, broken.start + self.config.max_quarantine_bytes)
        try:
            raw = file.read_range(broken.start, end)
        except Exception as exc:  # a corrupt zip member cannot be read back either
            raw = f"<unreadable: {type(exc).__name__}: {exc}>".encode()
        return Quarantined(
            source=self.name,
            reason=broken.reason,
            raw=raw,
            raw_ref=f"{file.key}@{broken.start}-{broken.end}",
            raw_size=max(0, broken.end - broken.start),
        )


def _unchanged(previous: dict[str, Any] | None, file: ExportFile) -> bool:
    return bool(
        previous and previous.get("done")
        and previous.get("size") == file.size and previous.get("mtime") == file.mtime_ns
    )


class _Run:
    """One fetch: reads files in order and cuts the items into batches with checkpoints."""

    def __init__(self, connector: ChatExportConnector, states: dict[str, Any], batch_size: int) -> None:
        self.connector = connector
        self.states = states
        self.batch_size = batch_size
        self.messages: list[Message] = []
        self.quarantined: list[Quarantined] = []
        self.dirty = False
        self._slack: dict[str, SlackContext] = {}

    def flush(self, *, final: bool = False) -> Iterator[Batch]:
        if self.messages or self.quarantined or (final and self.dirty):
            yield Batch(tuple(self.messages), {"v": CHECKPOINT_VERSION, "files": dict(self.states)},
                        tuple(self.quarantined))
            self.messages, self.quarantined, self.dirty = [], [], False

    def _resume_point(self, file: ExportFile, previous: dict[str, Any] | None) -> dict[str, Any] | None:
        """The previous entry if reading can go on from its offset, else None (start over)."""
        if not previous or previous.get("format") is None:
            return None
        offset = int(previous.get("offset", 0))
        if file.member is not None:
            same = previous.get("size") == file.size and previous.get("mtime") == file.mtime_ns
            return previous if same else None
        if file.size < offset:
            return None
        try:
            return previous if file.fingerprint(offset) == previous.get("fp") else None
        except OSError:
            return None

    def _parser(self, file: ExportFile, resume: dict[str, Any] | None) -> ChatParser | None:
        settings = self.connector.settings_for(file)
        name = resume["format"] if resume else detect(file, settings, self.connector.config.format)
        if name is None:
            return None
        context: Any = None
        if name == "slack" and file.slack_root is not None:
            if file.slack_root not in self._slack:
                self._slack[file.slack_root] = load_slack_context(self.connector.config.path, file)
            context = self._slack[file.slack_root]
        return PARSERS[name](file, settings, resume.get("parser") if resume else None, context)

    def _state(self, file: ExportFile, parser: ChatParser, parser_state: dict[str, Any],
               ids: StableIds, conversations: Conversations, offset: int, *, done: bool) -> dict[str, Any]:
        fingerprint = file.fingerprint(offset) if file.member is None else ""
        return {"format": parser.name, "size": file.size, "mtime": file.mtime_ns, "offset": offset,
                "fp": fingerprint, "done": done, "parser": parser_state, "ids": ids.state(),
                "conversations": conversations.state()}

    def _day_before(self, file: ExportFile) -> dict[str, Any] | None:
        """The open conversations at the end of the latest earlier day file of the same Slack
        channel folder (``2024-03-04.json`` before ``2024-03-05.json``), if it was read."""
        path = PurePosixPath(file.key)
        best: tuple[str, dict[str, Any]] | None = None
        for key, state in self.states.items():
            other = PurePosixPath(key)
            if other.parent != path.parent or not other.name < path.name or not isinstance(state, dict):
                continue
            found = state.get("conversations")
            if not isinstance(found, dict) or not str(state.get("format") or "").startswith("slack"):
                continue
            if best is None or other.name > best[0]:
                best = (other.name, found)
        return dict(best[1]) if best is not None else None

    def _two_party(self, file: ExportFile) -> list[str]:
        """One-to-one chats of a file read from the start (a separate pass over its first records)."""
        parser = self._parser(file, None)
        if parser is None:
            return []
        with file.open() as stream:
            items = parser.items(stream, 0)
            try:
                return two_party_chats(item for item in items if isinstance(item, Record))
            finally:
                close = getattr(items, "close", None)
                if callable(close):
                    close()

    def _add(self, record: Record, family: str, ids: StableIds, file: ExportFile,
             conversations: Conversations) -> None:
        """The record as a message; if even that fails, the record's bytes as a quarantine row."""
        made = guarded(
            functools.partial(self.connector.message, record, family, ids, file, conversations),
            source=self.connector.name,
            raw=b"",
            raw_ref=f"{file.key}@{record.start}",
        )
        if isinstance(made, Message):
            self.messages.append(made)
        else:
            self.quarantined.append(self.connector.quarantine(Broken(record.start, record.end, made.reason), file))

    def read(self, file: ExportFile, previous: dict[str, Any] | None,
             stop: threading.Event | None) -> Iterator[Batch]:
        """Read one file. A file that cannot be read at all (a corrupt zip member, Slack metadata
        that is not JSON) is one quarantine row from where reading stopped, and is left alone
        until it changes; the other files of the folder are read as usual."""
        try:
            yield from self._read(file, previous, stop)
        except Exception as exc:
            if is_source_error(exc):
                raise
            log.error("chat_export.file_unreadable", source=self.connector.name, file=file.key,
                      error=type(exc).__name__, exc_info=exc)
            start = int((self.states.get(file.key) or previous or {}).get("offset") or 0)
            broken = Broken(start, max(start, file.size), f"unreadable export file: {failure_reason(exc)}")
            self.quarantined.append(self.connector.quarantine(broken, file))
            self.states[file.key] = {"format": None, "size": file.size, "mtime": file.mtime_ns, "done": True}
            self.dirty = True

    def _read(self, file: ExportFile, previous: dict[str, Any] | None,
              stop: threading.Event | None) -> Iterator[Batch]:
        resume = self._resume_point(file, previous)
        parser = self._parser(file, resume)
        if parser is None:
            log.warning("chat_export.unknown_format", source=self.connector.name, file=file.key)
            self.states[file.key] = {"format": None, "size": file.size, "mtime": file.mtime_ns,
                                     "done": True}
            self.dirty = True
            return
        family = _family(parser.name)
        ids = StableIds(family, resume.get("ids") if resume else None)
        config = self.connector.config
        known = resume.get("conversations") if resume else None  # None: new file or older checkpoint
        if known is None and family == "slack":  # a conversation at midnight goes on in the next day's file
            known = self._day_before(file)
        sampled = self._two_party(file) if known is None and config.conversations == "auto" else []
        conversations = Conversations(config.conversation_gap_minutes, config.conversations, known,
                                      two_party=sampled)
        offset = int(resume["offset"]) if resume else 0
        parser_state = parser.state()
        with file.open() as stream:
            for item in parser.items(stream, offset):
                if isinstance(item, Record):
                    self._add(item, family, ids, file, conversations)
                    offset, parser_state = item.end, parser.state()
                else:
                    self.quarantined.append(self.connector.quarantine(item, file))
                    if not item.tail:
                        offset, parser_state = item.end, parser.state()
                if len(self.messages) + len(self.quarantined) >= self.batch_size:
                    self.states[file.key] = self._state(file, parser, parser_state, ids, conversations, offset,
                                                       done=False)
                    yield from self.flush()
                    if stop is not None and stop.is_set():
                        return
        self.states[file.key] = self._state(file, parser, parser_state, ids, conversations, offset,
                                            done=True)
        self.dirty = True
