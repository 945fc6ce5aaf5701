"""Append alerts as JSON lines to a file, exactly once per alert id.

A crash after the line is written but before the outbox row is marked sent makes the outbox
re-send it. The sender remembers the alert ids already in the file (it reads the tail of the file
once, on first use), so such a re-send is recognised and not written again.
"""

from __future__ import annotations

import json
import os
from typing import Any, BinaryIO, ClassVar

from monitor.alerts.senders.base import Outcome, Sender, SenderConfig, SendResult
from monitor.plugin import ConfigPath

TAIL_BYTES = 4 * 1024 * 1024  # re-sends only concern the last few lines written before a crash


def _ends_with_newline(handle: BinaryIO) -> bool:
    handle.seek(-1, os.SEEK_END)
    last = handle.read(1)
    handle.seek(0, os.SEEK_END)
    return last == b"\n"


class JsonlConfig(SenderConfig):
    path: ConfigPath
    fsync: bool = True


class JsonlSender(Sender):
    kind: ClassVar[str] = "jsonl"
    Config = JsonlConfig
    group_chat = False

    def __init__(self, name: str, config: SenderConfig) -> None:
        super().__init__(name, config)
        assert isinstance(config, JsonlConfig)
        self.path = config.path
        self._seen: set[int] | None = None

    def _load_seen(self) -> set[int]:
        seen: set[int] = set()
        try:
            with self.path.open("rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, size - TAIL_BYTES))
                for line in handle.read().splitlines():
                    try:
                        seen.add(int(json.loads(line)["id"]))
                    except (ValueError, KeyError, TypeError):
                        continue  # a torn last line or a line cut by the tail window
        except FileNotFoundError:
            pass
        return seen

    def check(self) -> list[str]:
        folder = self.path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent  # send() creates the missing folders below the first existing one
        if not folder.is_dir():
            return [f"{folder} 不是目录 is not a directory: cannot create {self.path}"]
        if self.path.exists() and not os.access(self.path, os.W_OK):
            return [f"{self.path} 不可写 is not writable"]
        if not self.path.exists() and not os.access(folder, os.W_OK | os.X_OK):
            return [f"{folder} 不可写 is not writable: cannot create {self.path}"]
        return []

    def send(self, payload: dict[str, Any]) -> SendResult:
        if self._seen is None:
            self._seen = self._load_seen()
        alert_id = int(payload["id"])
        if alert_id in self._seen:
            return SendResult(Outcome.OK, "already in file")
        line = json.dumps(payload, ensure_ascii=False, sort_keys=True) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a+b") as handle:
                if handle.tell() and not _ends_with_newline(handle):
                    line = "\n" + line  # a write cut short (disk full, crash): never glue onto it
                handle.write(line.encode("utf-8"))
                handle.flush()
                if getattr(self.config, "fsync", True):
                    os.fsync(handle.fileno())
        except OSError as exc:
            return SendResult(Outcome.RETRY, f"cannot write {self.path}: {exc.strerror}")
        self._seen.add(alert_id)
        return SendResult.ok()
