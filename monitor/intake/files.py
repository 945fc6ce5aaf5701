"""Attachments: the type comes from the content (magic bytes), never from the name or the client.

Pictures, video and voice notes are accepted (the policy's list); anything else - HTML, scripts,
archives, executables - is refused, and a file whose name claims an accepted type while its
content is something else is quarantined as well (that is more than a client mistake). Files are
stored once per content under ``<state_dir>/attachments/<aa>/<sha256>`` (temp file, fsync,
rename); the client's file name is kept only as a label, cleaned of any path.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from monitor.intake.settings import IntakeConfig

# media type -> extensions a client may name it with
MEDIA = {
    "image/jpeg": (".jpg", ".jpeg", ".jfif"),
    "image/png": (".png",),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "image/heic": (".heic", ".heif"),
    "video/mp4": (".mp4", ".m4v"),
    "video/quicktime": (".mov",),
    "video/webm": (".webm",),
    "audio/mpeg": (".mp3",),
    "audio/mp4": (".m4a", ".aac"),
    "audio/wav": (".wav",),
    "audio/ogg": (".ogg", ".oga", ".opus"),
    "audio/amr": (".amr",),
}
KNOWN_EXTENSIONS = {ext: media for media, exts in MEDIA.items() for ext in exts}


class AttachmentError(ValueError):
    """A refused file: HTTP status, a Chinese/English message, and whether to quarantine it."""

    def __init__(self, status: int, message: str, *, quarantine: bool = False, name: str = "") -> None:
        super().__init__(message)
        self.status, self.quarantine, self.name = status, quarantine, name


@dataclass(frozen=True, slots=True)
class Upload:
    name: str
    data: bytes


@dataclass(frozen=True, slots=True)
class CheckedFile:
    name: str
    media_type: str
    data: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)


def sniff(data: bytes) -> str | None:
    """The media type the bytes are, among the accepted ones; None for anything else."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
            return "image/heic"
        if brand == b"qt  ":
            return "video/quicktime"
        if brand in (b"M4A ", b"M4B "):
            return "audio/mp4"
        return "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    return None


_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>:\"|?*]")


def safe_name(name: str) -> str:
    """A label for the file: the last path part only (``../../etc/passwd`` → ``passwd``), no
    control or shell-special characters, no leading dots, at most 120 characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = PureWindowsPath(PurePosixPath(name.replace("\\", "/")).name).name
    name = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    return name[-120:] or "file"


def check(uploads: Sequence[Upload], settings: IntakeConfig) -> list[CheckedFile]:
    """Validate count, sizes and types; raise :class:`AttachmentError` for the first bad file."""
    if len(uploads) > settings.max_files:
        raise AttachmentError(413, f"附件最多 {settings.max_files} 个 / at most {settings.max_files} attachments")
    total = sum(len(u.data) for u in uploads)
    if total > settings.max_message_bytes:
        raise AttachmentError(
            413, f"附件合计不能超过 {settings.max_message_mb:g} MB / attachments exceed {settings.max_message_mb:g} MB in total"
        )
    checked: list[CheckedFile] = []
    for upload in uploads:
        name = safe_name(upload.name)
        if len(upload.data) > settings.max_file_bytes:
            raise AttachmentError(
                413, f"{name}: 单个附件不能超过 {settings.max_file_mb:g} MB / a file may not exceed {settings.max_file_mb:g} MB",
                name=name,
            )
        if not upload.data:
            raise AttachmentError(422, f"{name}: 空文件 / empty file", name=name)
        media = sniff(upload.data)
        claimed = KNOWN_EXTENSIONS.get(Path(name).suffix.lower())
        if media is None:
            raise AttachmentError(
                415,
                f"{name}: 只接受图片、视频和语音，按内容判断 / only pictures, video and voice are accepted "
                "(the type is read from the content)",
                quarantine=claimed is not None,  # named like a picture but is something else
                name=name,
            )
        checked.append(CheckedFile(name, media, upload.data, hashlib.sha256(upload.data).hexdigest()))
    return checked


def attachment_path(state_dir: Path, sha256: str) -> Path:
    return state_dir / "attachments" / sha256[:2] / sha256


def store_files(state_dir: Path, files: Sequence[CheckedFile]) -> None:
    """Write each file once by content hash (temp + fsync + rename); a file already there is kept."""
    for item in files:
        path = attachment_path(state_dir, item.sha256)
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{item.sha256}.{os.getpid()}.tmp")
        with tmp.open("wb") as handle:
            handle.write(item.data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(0o640)
        tmp.replace(path)


class StoredFileError(ValueError):
    """A stored attachment that cannot be handed out as it was recorded (missing, changed, retyped)."""


def stored_bytes(state_dir: Path, sha256: str, media_type: str) -> bytes:
    """An attachment's stored bytes, checked again before they leave: the content hash it was
    stored under, and the media type read from the content - the one recorded, never another."""
    path = attachment_path(state_dir, sha256)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StoredFileError(f"附件文件缺失 / the stored file is missing: {path} ({exc.strerror})") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise StoredFileError(f"附件内容已被改动 / the stored file does not match its hash: {path}")
    if sniff(data) != media_type or media_type not in MEDIA:
        raise StoredFileError(f"附件类型与内容不符 / the stored file's content is not {media_type}: {path}")
    return data


def export_name(index: int, name: str, media_type: str) -> str:
    """``3-receipt.png``: the number, the sanitised name's stem and the extension of the type the
    content has (a ``.jpg`` name on PNG bytes is written as ``.png``)."""
    stem = Path(safe_name(name)).stem.strip().lstrip(".")[:80] or "file"
    return f"{index}-{stem}{MEDIA[media_type][0]}"
