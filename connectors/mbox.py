"""An mbox file (``From `` separated), read incrementally from a byte offset.

The last message of the file is read only once the file has been quiet for ``settle_seconds``
(a delivery agent may still be appending to it). External ids are content hashes, so a message
re-read after the file was rewritten is recognised.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import ClassVar

from pydantic import Field

from connectors.base import BatchBuffer, ConfigPath, Connector, ConnectorConfig
from connectors.filestate import KEEP_RAW, is_settled, new_state, read_lines, resume_offset
from connectors.guard import guarded
from connectors.mail.parse import parse_email
from connectors.paths import path_problem, require_path
from monitor.message import Batch, Checkpoint, Message, Quarantined

_FROM = re.compile(rb"^From \S*.*\d{4}\s*$")
_ESCAPED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)


class MboxConfig(ConnectorConfig):
    path: ConfigPath
    settle_seconds: float = Field(2.0, ge=0)
    max_message_bytes: int = Field(25 * 1024 * 1024, ge=1024)


class MboxConnector(Connector[MboxConfig]):
    kind: ClassVar[str] = "mbox"
    channel: ClassVar[str] = "email"
    Config = MboxConfig

    def check(self) -> list[str]:
        problem = path_problem(self.config.path, kind="file")
        return [f"mbox file {problem}"] if problem else []

    def parse_raw(self, raw: bytes, raw_ref: str) -> Message:
        first, _, rest = raw.partition(b"\n")
        body = rest if _FROM.match(first) else raw
        return parse_email(_ESCAPED_FROM.sub(rb"\1", body), source=self.name, raw_ref=raw_ref)

    def fetch(
        self, checkpoint: Checkpoint | None, *, batch_size: int = 500, stop: threading.Event | None = None
    ) -> Iterator[Batch]:
        path = self.config.path
        require_path(path, what="mbox source", kind="file")
        offset = resume_offset(path, (checkpoint or {}).get("file"))
        settled = is_settled(path, self.config.settle_seconds)
        buffer = BatchBuffer(batch_size)
        done_offset = offset
        chunks: list[bytes] = []
        size = 0
        start = offset
        with path.open("rb") as handle:
            for line in read_lines(handle, offset, 1024 * 1024):
                if _FROM.match(line.raw) and (chunks or size):
                    buffer.add(self._emit(chunks, size, start))
                    done_offset = line.start
                    if buffer.full:
                        yield buffer.take({"file": new_state(path, done_offset)})
                        if stop is not None and stop.is_set():
                            return
                    chunks, size, start = [], 0, line.start
                if not chunks and not size:
                    start = line.start
                size += line.size
                if size <= self.config.max_message_bytes:
                    chunks.append(line.raw)
            end = handle.tell()
        if (chunks or size) and settled:
            buffer.add(self._emit(chunks, size, start))
            done_offset = end
        if buffer or done_offset != offset:
            yield buffer.take({"file": new_state(path, done_offset)})

    def _emit(self, chunks: list[bytes], size: int, start: int) -> Message | Quarantined:
        raw = b"".join(chunks)
        ref = f"{self.config.path.name}@{start}"
        if size > self.config.max_message_bytes:
            reason = f"message larger than {self.config.max_message_bytes} bytes"
            return Quarantined(self.name, reason, raw[:KEEP_RAW], ref, size)
        return guarded(lambda: self.parse_raw(raw, ref), source=self.name, raw=raw, raw_ref=ref)
