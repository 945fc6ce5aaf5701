"""A mail's identity that survives re-numbering: Message-ID + Date + size.

IMAP UIDs are only valid with their UIDVALIDITY; when a server renumbers a folder (restored
backup, migrated mailbox, rebuilt index) every UID changes. The external id is therefore derived
from what the server cannot change: ``Message-ID``, ``Date`` and the RFC822 size (``From`` and
``Subject`` stand in for a missing ``Message-ID``). The same function runs on the full raw
message and on a ``BODY.PEEK[HEADER.FIELDS (...)]`` answer, so a resync can find known mail from
headers alone.
"""

from __future__ import annotations

import hashlib
import re

IDENTITY_FIELDS = (b"MESSAGE-ID", b"DATE", b"FROM", b"SUBJECT")
_WANTED = {name.decode().lower() for name in IDENTITY_FIELDS}
_BLANK = re.compile(rb"\r?\n\r?\n")
_WS = re.compile(rb"\s+")


def header_block(raw: bytes) -> bytes:
    """The header section of a raw message (everything before the first empty line)."""
    match = _BLANK.search(raw)
    return raw[: match.start()] if match else raw


def identity_fields(header: bytes) -> dict[str, bytes]:
    """First occurrence of each identity field, unfolded and whitespace-collapsed."""
    found: dict[str, bytes] = {}
    current: str | None = None
    for line in header.splitlines():
        if not line.strip():
            if found or current:
                break
            continue
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                found[current] += b" " + line.strip()
            continue
        current = None
        name, colon, value = line.partition(b":")
        key = name.strip().decode("ascii", "replace").lower()
        if colon and key in _WANTED and key not in found:
            found[key] = value.strip()
            current = key
    return {key: _WS.sub(b" ", value).strip() for key, value in found.items()}


def mail_identity(header: bytes, size: int) -> str:
    """The external id of a mail from its header section (or header fields) and size."""
    fields = identity_fields(header)
    message_id = fields.get("message-id", b"")
    parts = [message_id, fields.get("date", b""), str(size).encode()]
    if not message_id:
        parts += [fields.get("from", b""), fields.get("subject", b"")]
    digest = hashlib.blake2b(b"\x00".join(parts), digest_size=16).hexdigest()
    return ("mid:" if message_id else "hdr:") + digest
