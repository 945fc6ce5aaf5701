"""Files in the watched folder: plain files and members of zip archives, read as bytes.

A file is addressed by a ``key`` that stays the same across polls: its path relative to the
watched folder, or ``archive.zip!member`` for a zip member. Offsets are byte offsets into the
(decompressed) file, which is what checkpoints store.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

FINGERPRINT_SPAN = 256
_GENERIC_STEMS = {"_chat", "chat", "result", "messages", "export"}
# Media and documents that exports carry next to the chat (photos/, files/, stickers ...) are
# never chat logs; everything else is offered to format detection, whatever its name.
SKIPPED_SUFFIXES = frozenset({
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".bmp", ".svg", ".ico", ".tgs",
    ".mp4", ".mov", ".avi", ".mkv", ".webm", ".3gp", ".opus", ".ogg", ".mp3", ".m4a", ".aac",
    ".wav", ".amr", ".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".vcf", ".html",
    ".htm", ".css", ".js", ".exe", ".dll", ".db", ".sqlite", ".gz", ".7z", ".rar", ".tar", ".bz2",
    ".part", ".partial", ".tmp", ".crdownload", ".download",  # still being copied or downloaded
})
SLACK_MARKERS = ("channels.json", "users.json")


@dataclass(frozen=True, slots=True)
class ExportFile:
    """One readable export file; ``member`` is set for a file inside a zip archive."""

    key: str
    path: Path
    member: str | None
    size: int
    mtime_ns: int
    slack_root: str | None = None  # key prefix of the Slack export this day file belongs to

    @property
    def name(self) -> str:
        return PurePosixPath(self.member).name if self.member else self.path.name

    @property
    def container_stem(self) -> str:
        """The name that best names the chat when the export itself does not.

        WhatsApp's "export with media" zip holds ``_chat.txt``: the zip's name names the chat.
        A zip of several named chat files names each by its own file.
        """
        if self.member is not None:
            stem = PurePosixPath(self.member).stem
            return self.path.stem if stem.lower() in _GENERIC_STEMS else stem
        return self.path.stem

    def open(self) -> IO[bytes]:
        if self.member is None:
            return open(self.path, "rb")
        # The member keeps the archive's file open until the member itself is closed.
        with zipfile.ZipFile(self.path) as archive:
            return archive.open(self.member)

    def read_range(self, start: int, end: int) -> bytes:
        with self.open() as stream:
            stream.seek(start)
            return stream.read(max(0, end - start))

    def fingerprint(self, offset: int) -> str:
        """A hash of the file's first bytes and the bytes before ``offset``.

        Equal fingerprints mean the file still starts like the one the checkpoint was taken
        from, so resuming at ``offset`` is safe; otherwise the file is read again from the start
        (storage drops the duplicates).
        """
        digest = hashlib.blake2b(digest_size=10)
        with self.open() as stream:
            digest.update(stream.read(min(offset, FINGERPRINT_SPAN)))
            tail_start = max(0, offset - FINGERPRINT_SPAN)
            stream.seek(tail_start)
            digest.update(stream.read(offset - tail_start))
        return digest.hexdigest()


def discover(root: Path, *, recursive: bool) -> list[ExportFile]:
    """Every candidate export file under ``root`` (or ``root`` itself), sorted by key."""
    if root.is_file():  # named explicitly: offered whatever its suffix
        return sorted(_from_path(root, root.name, explicit=True), key=lambda f: f.key)
    found: list[ExportFile] = []
    _walk(root, root, found, recursive=recursive)
    return sorted(found, key=lambda f: f.key)


def _walk(root: Path, folder: Path, found: list[ExportFile], *, recursive: bool) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    names = {e.name for e in entries}
    slack_root = (
        folder.relative_to(root).as_posix() if all(m in names for m in SLACK_MARKERS) else None
    )
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        rel = path.relative_to(root).as_posix()
        if entry.is_dir(follow_symlinks=False):
            if slack_root is not None:
                found.extend(_slack_dir(root, path, slack_root))
            elif recursive:
                _walk(root, path, found, recursive=recursive)
        elif entry.is_file() and slack_root is None:
            found.extend(_from_path(path, rel))


def _slack_dir(root: Path, channel_dir: Path, slack_root: str) -> Iterator[ExportFile]:
    for day in sorted(channel_dir.glob("*.json")):
        stat = day.stat()
        yield ExportFile(
            day.relative_to(root).as_posix(), day, None, stat.st_size, stat.st_mtime_ns, slack_root
        )


def _from_path(path: Path, rel: str, *, explicit: bool = False) -> Iterator[ExportFile]:
    stat = path.stat()
    if path.suffix.lower() == ".zip":
        yield from _zip_members(path, rel, stat.st_mtime_ns)
    elif explicit or path.suffix.lower() not in SKIPPED_SUFFIXES:
        yield ExportFile(rel, path, None, stat.st_size, stat.st_mtime_ns)


def _zip_members(path: Path, rel: str, mtime_ns: int) -> Iterator[ExportFile]:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError):
        # Still being copied, or not a zip after all: offered as a file, quarantined as unknown.
        yield ExportFile(rel, path, None, path.stat().st_size, mtime_ns)
        return
    names = {i.filename for i in infos}
    slack_prefix = next(
        (n[: -len("channels.json")] for n in sorted(names) if n.endswith("channels.json")
         and n[: -len("channels.json")] + "users.json" in names),
        None,
    )
    for info in sorted(infos, key=lambda i: i.filename):
        member = PurePosixPath(info.filename)
        if member.name.startswith(".") or member.suffix.lower() in SKIPPED_SUFFIXES:
            continue
        slack_root = None
        if slack_prefix is not None:
            if not info.filename.startswith(slack_prefix) or len(member.parts) < 2:
                continue  # channels.json / users.json themselves are context, not messages
            if member.parent.as_posix() + "/" == slack_prefix:
                continue
            slack_root = f"{rel}!{slack_prefix}"
        yield ExportFile(f"{rel}!{info.filename}", path, info.filename, info.file_size, mtime_ns,
                         slack_root)


def sniff_encoding(head: bytes) -> tuple[str, int]:
    """The text encoding of a file from its first bytes, and how many BOM bytes to skip.

    UTF-8 (with or without BOM) is the norm; Windows WeChat tools also write GB18030/GBK.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", len(codecs.BOM_UTF8)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut by the sample's end
            try:
                head[: exc.start + 64].decode("gb18030")
            except UnicodeDecodeError:
                return "utf-8", 0
            return "gb18030", 0
    return "utf-8", 0


def read_head(file: ExportFile, size: int = 65536) -> bytes:
    with file.open() as stream:
        return stream.read(size)


def lines_with_offsets(stream: IO[bytes], offset: int) -> Iterator[tuple[int, bytes]]:
    """``(start offset, raw line incl. newline)`` for every line from ``offset`` on."""
    stream.seek(offset)
    position = offset
    for line in stream:
        yield position, line
        position += len(line)
