"""Read one IMAP folder in batches from a ``(UIDVALIDITY, last UID)`` cursor.

Per batch: ``UID SEARCH`` finds the next UIDs (in windows, so memory does not grow with the
mailbox), ``UID FETCH (RFC822.SIZE INTERNALDATE)`` sizes them, then ``BODY.PEEK[]`` (never sets
``\\Seen``) fetches those under the size cap and ``BODY.PEEK[]<0.N>`` keeps a prefix of the
oversized ones for their quarantine row. Each batch carries the cursor past its last UID.

When the folder's UIDVALIDITY differs from the cursor's, every UID is new and the folder is read
again from the start (``resync_to`` marks how far the old numbering went). Known mail is
recognised by its external id (Message-ID + Date + size, :mod:`connectors.mail.identity`): storage
deduplicates replays by it, and an optional ``known`` lookup lets the connector skip the bodies of
mail already stored, fetching only headers for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import structlog

from connectors.guard import guarded
from connectors.mail.identity import IDENTITY_FIELDS, header_block, mail_identity
from connectors.mail.imap_config import ImapConfig
from connectors.mail.imap_session import ImapSession, UidValidityChanged
from connectors.mail.parse import parse_mail
from monitor.message import Message, Quarantined

log = structlog.get_logger(__name__)

KnownIds = Callable[[list[str]], Collection[str]]
_HEADER_FETCH = b"BODY.PEEK[HEADER.FIELDS (" + b" ".join(IDENTITY_FIELDS) + b")]"


@dataclass(frozen=True, slots=True)
class FolderCursor:
    """Where reading a folder stopped: the numbering (UIDVALIDITY) and the last UID handled."""

    uidvalidity: int | None = None
    uid: int = 0
    resync_to: int | None = None  # re-reading after a UIDVALIDITY change, up to this UID

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"uidvalidity": self.uidvalidity, "uid": self.uid}
        if self.resync_to is not None:
            out["resync_to"] = self.resync_to
        return out

    @classmethod
    def from_json(cls, data: Any) -> FolderCursor:
        if not isinstance(data, dict):
            return cls()
        validity, uid, resync = data.get("uidvalidity"), data.get("uid", 0), data.get("resync_to")
        return cls(
            uidvalidity=int(validity) if validity is not None else None,
            uid=int(uid),
            resync_to=int(resync) if resync is not None else None,
        )


@dataclass(frozen=True, slots=True)
class ScanItem:
    """One fetched UID: its message or quarantine row."""

    uid: int
    message: Message | None = None
    quarantined: Quarantined | None = None


def raw_ref(config: ImapConfig, folder: str, uidvalidity: int, uid: int) -> str:
    """An RFC 5092 IMAP URL naming the mail on the server (for operators and ``after_commit``)."""
    user = quote(config.username, safe="")
    return f"imap://{user}@{config.host}:{config.effective_port}/{quote(folder)};UIDVALIDITY={uidvalidity}/;UID={uid}"


class FolderScanner:
    """Yields ``(items, cursor)`` chunks of one folder after ``cursor``."""

    def __init__(
        self,
        session: ImapSession,
        *,
        folder: str,
        batch_size: int,
        stop: threading.Event | None,
        known: KnownIds | None,
    ) -> None:
        self.session = session
        self.config = session.config
        self.folder = folder
        self.batch_size = max(1, batch_size)
        self.stop = stop
        self.known = known
        self.snapshot: tuple[int, int | None] | None = None  # (UIDVALIDITY, UIDNEXT) read up to

    def scan(self, cursor: FolderCursor) -> Iterator[tuple[list[ScanItem], FolderCursor]]:
        """Chunks after ``cursor``; survives reconnects and a renumbering in the middle."""
        while True:
            try:
                for items, advanced in self._scan_once(cursor):
                    cursor = advanced  # the resume point if the folder is renumbered mid-scan
                    yield items, advanced
                return
            except UidValidityChanged as exc:
                log.warning("imap.uidvalidity_changed", source=self.session.source, folder=self.folder,
                            old=exc.old, new=exc.new)

    def _start(self, cursor: FolderCursor) -> tuple[FolderCursor, int]:
        self.session.selected = None  # fresh SELECT: current UIDNEXT and UIDVALIDITY
        info = self.session.run(lambda c: self.session.folder_info[self.folder], folder=self.folder,
                                stop=self.stop)
        end = info.uidnext - 1 if info.uidnext else self._max_uid(info.uidvalidity)
        self.snapshot = (info.uidvalidity, info.uidnext)
        if cursor.uidvalidity != info.uidvalidity:
            if cursor.uidvalidity is not None:
                log.warning("imap.resync", source=self.session.source, folder=self.folder,
                            old=cursor.uidvalidity, new=info.uidvalidity, resync_to=end)
                cursor = FolderCursor(info.uidvalidity, 0, end)
            else:
                cursor = FolderCursor(info.uidvalidity, 0, None)
        return cursor, end

    def _max_uid(self, uidvalidity: int) -> int:
        found = self.session.run(lambda c: c.search(["ALL"]), folder=self.folder, uidvalidity=uidvalidity,
                                 stop=self.stop)
        return max(found, default=0)

    def _scan_once(self, cursor: FolderCursor) -> Iterator[tuple[list[ScanItem], FolderCursor]]:
        cursor, end = self._start(cursor)
        assert cursor.uidvalidity is not None
        validity = cursor.uidvalidity
        window = self.batch_size * 4
        low = cursor.uid + 1
        while low <= end:
            if self.stop is not None and self.stop.is_set():
                return
            high = min(end, low + window - 1)
            found = self._run(_search(low, high), validity)
            uids = sorted(u for u in found if low <= u <= high)
            window = window * 2 if len(uids) < self.batch_size else self.batch_size * 4
            for start in range(0, len(uids), self.batch_size):
                for chunk in self._chunks(uids[start : start + self.batch_size], validity):
                    items = self._fetch(chunk, validity, cursor)
                    last = chunk[-1][0]
                    resync = cursor.resync_to if cursor.resync_to and last < cursor.resync_to else None
                    cursor = replace(cursor, uid=last, resync_to=resync)
                    yield items, cursor
                    if self.stop is not None and self.stop.is_set():
                        return
            low = high + 1

    def _run(self, operation: Callable[[Any], Any], validity: int) -> Any:
        return self.session.run(operation, folder=self.folder, uidvalidity=validity, stop=self.stop)

    def _chunks(self, uids: list[int], validity: int) -> Iterator[list[tuple[int, int, datetime | None]]]:
        """``(uid, size, internaldate)`` groups bounded by count and by ``max_batch_bytes``."""
        if not uids:
            return
        meta = self._run(lambda c: c.fetch(uids, [b"RFC822.SIZE", b"INTERNALDATE"]), validity)
        chunk: list[tuple[int, int, datetime | None]] = []
        total = 0
        for uid in uids:
            if uid not in meta:
                continue  # expunged meanwhile
            size = int(meta[uid].get(b"RFC822.SIZE", 0))
            charged = min(size, self.config.max_message_bytes)
            if chunk and total + charged > self.config.max_batch_bytes:
                yield chunk
                chunk, total = [], 0
            when = meta[uid].get(b"INTERNALDATE")
            chunk.append((uid, size, when if isinstance(when, datetime) else None))
            total += charged
        if chunk:
            yield chunk

    def _fetch(
        self, chunk: list[tuple[int, int, datetime | None]], validity: int, cursor: FolderCursor
    ) -> list[ScanItem]:
        cap = self.config.max_message_bytes
        skip: set[int] = set()
        if self.known is not None and cursor.resync_to is not None:
            skip = self._known_uids(chunk, validity)
        small = [uid for uid, size, _ in chunk if size <= cap and uid not in skip]
        big = [uid for uid, size, _ in chunk if size > cap and uid not in skip]
        bodies: dict[int, bytes] = {}
        if small:
            answer = self._run(lambda c: c.fetch(small, [b"BODY.PEEK[]"]), validity)
            bodies.update(_bodies(answer))
        if big:
            keep = max(self.config.quarantine_keep_bytes, 1)
            answer = self._run(lambda c: c.fetch(big, [f"BODY.PEEK[]<0.{keep}>".encode()]), validity)
            bodies.update(_bodies(answer))
        items = []
        for uid, size, when in chunk:
            if uid in skip:
                continue
            ref = raw_ref(self.config, self.folder, validity, uid)
            items.append(self._item(uid, size, when, bodies.get(uid), ref))
        return items

    def _known_uids(self, chunk: list[tuple[int, int, datetime | None]], validity: int) -> set[int]:
        uids = [uid for uid, _, _ in chunk]
        answer = self._run(lambda c: c.fetch(uids, [_HEADER_FETCH]), validity)
        ids: dict[str, int] = {}
        for uid, size, _ in chunk:
            header = next((v for k, v in answer.get(uid, {}).items() if k.startswith(b"BODY[HEADER")), None)
            if isinstance(header, bytes):
                ids[mail_identity(header, size)] = uid
        assert self.known is not None
        known = set(self.known(list(ids)))
        return {uid for external_id, uid in ids.items() if external_id in known}

    def _item(self, uid: int, size: int, when: datetime | None, raw: bytes | None, ref: str) -> ScanItem:
        source = self.session.source
        if raw is None:
            reason = "server returned no body (expunged meanwhile or unreadable)"
            return ScanItem(uid, quarantined=Quarantined(source, reason, b"", ref, size))
        if size > self.config.max_message_bytes:
            reason = f"message of {size} bytes exceeds max_message_bytes={self.config.max_message_bytes}"
            partial = f"{ref}/;PARTIAL=0.{len(raw)}"  # RFC 5092: only this prefix was kept
            return ScanItem(uid, quarantined=Quarantined(source, reason, raw, partial, size))
        received = when.astimezone(UTC) if when is not None and when.tzinfo else None
        item = guarded(
            lambda: parse_mail(raw, source=source, external_id=mail_identity(header_block(raw), size),
                               raw_ref=ref, received_at=received).message,
            source=source,
            raw=raw,
            raw_ref=ref,
            raw_size=size,
        )
        if isinstance(item, Quarantined):
            return ScanItem(uid, quarantined=item)
        return ScanItem(uid, message=item)


def _search(low: int, high: int) -> Callable[[Any], list[int]]:
    def operation(client: Any) -> list[int]:
        return list(client.search(["UID", f"{low}:{high}"]))

    return operation


def _bodies(answer: dict[int, dict[bytes, Any]]) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for uid, data in answer.items():
        for key, value in data.items():
            if key.startswith(b"BODY[") and isinstance(value, bytes):
                out[uid] = value
    return out
