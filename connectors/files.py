"""A folder of JSON-lines, CSV or plain-text files, read incrementally as files grow or appear.

Each file is read from where the last committed batch stopped. A last line without a newline is
left for later while the file is still being written, and read once the file has been quiet for
``settle_seconds``. Unparseable records, over-long lines and binary files become quarantine rows.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import Field

from connectors.base import BatchBuffer, ConfigPath, Connector, ConnectorConfig
from connectors.filestate import (
    KEEP_RAW,
    Line,
    is_settled,
    list_files,
    looks_binary,
    new_state,
    read_lines,
    relative_name,
    resume_offset,
)
from connectors.guard import guarded
from connectors.paths import folder_problem, require_folder
from connectors.records import FieldMap, record_to_message
from monitor.errors import BadInputError
from monitor.message import Batch, Checkpoint, Message, Quarantined

Format = Literal["auto", "jsonl", "csv", "text"]


class FilesConfig(ConnectorConfig):
    path: ConfigPath
    pattern: str = "*"
    format: Format = "auto"
    fields: FieldMap = FieldMap()
    timezone: str = "Asia/Shanghai"
    time_format: str | None = None  # strptime pattern (or epoch/epoch_ms/iso) tried before the usual formats
    settle_seconds: float = Field(2.0, ge=0)
    max_record_bytes: int = Field(1024 * 1024, ge=1024)
    encoding: str = "utf-8"


def detect_format(path: Path, configured: Format) -> Format:
    if configured != "auto":
        return configured
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    if suffix in {".csv", ".tsv"}:
        return "csv"
    with path.open("rb") as handle:
        first = handle.read(64).removeprefix(codecs.BOM_UTF8).lstrip()[:1]
    return "jsonl" if first == b"{" else "text"


class FilesConnector(Connector[FilesConfig]):
    kind: ClassVar[str] = "files"
    channel: ClassVar[str] = "feedback"
    Config = FilesConfig

    def __init__(self, name: str, config: FilesConfig) -> None:
        super().__init__(name, config)
        self._identity: dict[Path, dict[str, Any]] = {}

    def check(self) -> list[str]:
        problem = folder_problem(self.config.path)
        return [problem] if problem else []

    def parse_raw(self, raw: bytes, raw_ref: str) -> Message:
        name = raw_ref.rsplit("@", 1)[0]
        path = self.config.path / name
        fmt = detect_format(path, self.config.format) if path.exists() else self.config.format
        header = None
        if fmt == "csv" and path.exists():
            with path.open("rb") as handle:
                header = next(csv.reader(io.StringIO(handle.readline().decode(self.config.encoding))), None)
        result = self._parse(raw, "jsonl" if fmt == "auto" else fmt, name, raw_ref, header)
        if isinstance(result, Quarantined):
            raise BadInputError(result.reason)
        return result

    def fetch(
        self, checkpoint: Checkpoint | None, *, batch_size: int = 500, stop: threading.Event | None = None
    ) -> Iterator[Batch]:
        require_folder(self.config.path, what="files source folder")
        states: dict[str, Any] = dict((checkpoint or {}).get("files", {}))
        buffer = BatchBuffer(batch_size)
        folder = self.config.path
        for path in list_files(folder, self.config.pattern):
            if stop is not None and stop.is_set():
                break
            name = relative_name(folder, path)
            for item, state in self._read_file(path, name, states.get(name)):
                states[name] = state
                if item is None:
                    continue
                buffer.add(item)
                if buffer.full:
                    yield buffer.take({"files": dict(states)})
                    if stop is not None and stop.is_set():
                        return
        if buffer or states != dict((checkpoint or {}).get("files", {})):
            yield buffer.take({"files": dict(states)})

    def _read_file(
        self, path: Path, name: str, state: dict[str, Any] | None
    ) -> Iterator[tuple[Message | Quarantined | None, dict[str, Any]]]:
        try:
            offset = resume_offset(path, state)
            size = path.stat().st_size
            if offset >= size:
                return
            if offset == 0 and looks_binary(path):
                with path.open("rb") as handle:
                    raw = handle.read(KEEP_RAW)
                yield (
                    self._bad(f"binary file (NUL bytes) in {name}", raw, f"{name}", size),
                    new_state(path, size),
                )
                return
            fmt = detect_format(path, self.config.format)
            settled = is_settled(path, self.config.settle_seconds)
            self._identity.pop(path, None)  # computed once per read of the file
            with path.open("rb") as handle:
                yield from self._records(handle, path, name, fmt, offset, settled, dict(state or {}))
        except FileNotFoundError:
            return  # removed while we looked; nothing to read

    def _records(
        self,
        handle: Any,
        path: Path,
        name: str,
        fmt: Format,
        offset: int,
        settled: bool,
        state: dict[str, Any],
    ) -> Iterator[tuple[Message | Quarantined | None, dict[str, Any]]]:
        header: list[str] | None = state.get("header") if offset else None
        pending: list[Line] = []  # physical lines of one CSV record with quoted newlines
        for line in read_lines(handle, offset, self.config.max_record_bytes):
            if line.start == 0 and line.raw.startswith(codecs.BOM_UTF8):
                line = dataclasses.replace(line, raw=line.raw[len(codecs.BOM_UTF8) :])  # Windows tools
            if not line.complete and not settled:
                return  # a writer is still at work on the last line
            ref = f"{name}@{line.start}"
            if line.oversized:
                pending = []
                reason = f"record larger than {self.config.max_record_bytes} bytes in {name}"
                yield self._bad(reason, line.raw, ref, line.size), self._state(path, line.end, header)
                continue
            if fmt == "csv":
                pending.append(line)
                joined = b"".join(p.raw for p in pending)
                if joined.count(b'"') % 2 and line.complete:
                    continue  # quoted field spans lines
                start = f"{name}@{pending[0].start}"
                pending = []
                if header is None:
                    try:
                        header = next(csv.reader(io.StringIO(joined.decode(self.config.encoding))))
                    except (UnicodeDecodeError, StopIteration, csv.Error) as exc:
                        yield (
                            self._bad(f"unreadable CSV header: {exc}", joined, start, len(joined)),
                            self._state(path, line.end, None),
                        )
                        return
                    yield None, self._state(path, line.end, header)
                    continue
                yield self._parse(joined, fmt, name, start, header), self._state(path, line.end, header)
                continue
            if not line.raw.strip():
                yield None, self._state(path, line.end, header)
                continue
            yield self._parse(line.raw, fmt, name, ref, header), self._state(path, line.end, header)
        if pending:
            joined = b"".join(p.raw for p in pending)
            reason = f"CSV record cut off (unbalanced quotes) at end of {name}"
            yield (
                self._bad(reason, joined, f"{name}@{pending[0].start}", len(joined)),
                self._state(path, pending[-1].end, header),
            )

    def _state(self, path: Path, offset: int, header: list[str] | None) -> dict[str, Any]:
        identity = self._identity.get(path)
        if identity is None:
            identity = self._identity[path] = new_state(path, 0)
        state = {**identity, "offset": offset}
        if header is not None:
            state["header"] = header
        return state

    def _bad(self, reason: str, raw: bytes, ref: str, size: int) -> Quarantined:
        return Quarantined(self.name, reason, raw[:KEEP_RAW], raw_ref=ref, raw_size=size)

    def _parse(
        self, raw: bytes, fmt: Format, name: str, ref: str, header: list[str] | None
    ) -> Message | Quarantined:
        """One record; whatever goes wrong becomes its quarantine row (connectors.guard)."""
        return guarded(
            lambda: self._message(raw, fmt, ref, header),
            source=self.name,
            raw=raw,
            raw_ref=ref,
            suffix=f" in {name}",
        )

    def _message(self, raw: bytes, fmt: Format, ref: str, header: list[str] | None) -> Message:
        try:
            text = raw.decode(self.config.encoding)
        except UnicodeDecodeError as exc:
            raise BadInputError(f"invalid {self.config.encoding} at byte {exc.start}") from None
        record = self._record(text, fmt, header, ref)
        return record_to_message(
            record,
            self.config.fields,
            source=self.name,
            channel=self.channel,
            zone=ZoneInfo(self.config.timezone),
            raw_ref=ref,
            default_time=datetime.now(UTC),
            time_format=self.config.time_format,
        )

    def _record(self, text: str, fmt: Format, header: list[str] | None, ref: str) -> dict[str, Any]:
        if fmt == "jsonl":
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise BadInputError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(value, dict):
                raise BadInputError("JSON line is not an object")
            return value
        if fmt == "csv":
            try:
                row = next(csv.reader(io.StringIO(text)))
            except (csv.Error, StopIteration) as exc:
                raise BadInputError(f"invalid CSV row: {exc}") from None
            assert header is not None
            if len(row) != len(header):
                raise BadInputError(f"CSV row has {len(row)} fields, header has {len(header)}")
            return dict(zip(header, row, strict=True))
        stripped = text.strip()
        return {self.config.fields.text: stripped, self.config.fields.id: ref}
