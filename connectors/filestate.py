"""Incremental reading of files that grow: per-file offsets, identity checks, bounded records.

A file's state is ``{"offset", "ino", "head"}``: where reading stopped, and what the file was
(inode and a hash of its first bytes). A replaced or truncated file is read again from the start
(storage deduplicates what was already stored). Records are read with a size cap, so a 50 MB line
costs 1 MB of memory and one quarantine row, not a crash.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

HEAD_BYTES = 256
SNIFF_BYTES = 8192
KEEP_RAW = 64 * 1024  # bytes of an oversized/binary input kept in quarantine


def file_head(path: Path, length: int = HEAD_BYTES) -> str:
    """Hash of the file's first ``length`` bytes (bytes already read never change in a growing file)."""
    with path.open("rb") as handle:
        return hashlib.sha1(handle.read(length), usedforsecurity=False).hexdigest()


def resume_offset(path: Path, state: dict[str, Any] | None) -> int:
    """Where to continue reading ``path`` given its stored state (0 if it is a different file)."""
    if not state:
        return 0
    stat = path.stat()
    offset = int(state.get("offset", 0))
    if state.get("ino") != stat.st_ino or stat.st_size < offset:
        return 0
    if offset and state.get("head") != file_head(path, int(state.get("head_len", HEAD_BYTES))):
        return 0
    return offset


def new_state(path: Path, offset: int) -> dict[str, Any]:
    """The state after reading up to ``offset``; identity from the bytes already there."""
    stat = path.stat()
    head_len = min(stat.st_size, HEAD_BYTES)
    return {"offset": offset, "ino": stat.st_ino, "head": file_head(path, head_len), "head_len": head_len}


def is_settled(path: Path, settle_seconds: float) -> bool:
    """True when the file has not been modified for ``settle_seconds`` (a writer is done with it)."""
    return time.time() - path.stat().st_mtime >= settle_seconds


def looks_binary(path: Path) -> bool:
    with path.open("rb") as handle:
        return b"\x00" in handle.read(SNIFF_BYTES)


@dataclass(frozen=True, slots=True)
class Line:
    """One line read with a cap. ``raw`` is cut at the cap when ``oversized``; ``size`` is real."""

    raw: bytes
    start: int
    end: int
    complete: bool  # ended with a newline
    oversized: bool

    @property
    def size(self) -> int:
        return self.end - self.start


def read_lines(handle: BinaryIO, offset: int, max_bytes: int) -> Iterator[Line]:
    """Lines from ``offset`` on; an over-long line is skipped to its end, keeping its first bytes."""
    handle.seek(offset)
    while True:
        start = handle.tell()
        raw = handle.readline(max_bytes + 1)
        if not raw:
            return
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            kept = raw[:KEEP_RAW]
            chunk = raw
            while chunk and not chunk.endswith(b"\n"):
                chunk = handle.readline(1024 * 1024)
            end = handle.tell()
            yield Line(kept, start, end, complete=bool(chunk), oversized=True)
            continue
        yield Line(raw, start, handle.tell(), complete=raw.endswith(b"\n"), oversized=False)


def list_files(folder: Path, pattern: str) -> list[Path]:
    """Regular, non-hidden files matching ``pattern``, in name order (stable across polls)."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.glob(pattern)
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith("~")
    )


def relative_name(folder: Path, path: Path) -> str:
    return os.path.relpath(path, folder)
