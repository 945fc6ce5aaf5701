"""IMAP mailboxes: new mail becomes Messages; nothing is lost, duplicated or deleted.

* Cursor per folder ``(UIDVALIDITY, last UID)`` in the checkpoint, valid once its batch is stored
  (:mod:`connectors.mail.imap_scan`); the external id is Message-ID + Date + size, so a renumbered
  folder (UIDVALIDITY change) is re-read without duplicates.
* Transient failures reconnect with exponential backoff and jitter, resuming after the last UID
  handed out (:mod:`connectors.mail.imap_session`).
* ``fetch()`` returns what is there now; :meth:`ImapConnector.wait_for_changes` blocks on IDLE
  (or polls) until there is more (:mod:`connectors.mail.imap_watch`).
* Mail is only read with ``BODY.PEEK``. Optional post-store actions (flag ``\\Seen``, move to a
  folder) run in :meth:`ImapConnector.after_commit`, which the ingest loop calls after the batch's
  transaction committed. Nothing is ever deleted or expunged.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import ClassVar
from urllib.parse import unquote

import structlog
from imapclient import SEEN, IMAPClient

from connectors.base import Connector
from connectors.mail.identity import header_block, mail_identity
from connectors.mail.imap_config import ImapConfig
from connectors.mail.imap_scan import FolderCursor, FolderScanner, KnownIds, raw_ref
from connectors.mail.imap_session import ImapSession, Stopped, UidValidityChanged
from connectors.mail.imap_watch import FolderWatcher
from connectors.mail.parse import parse_mail
from monitor.errors import AuthError, BadInputError, ConfigError, UnavailableError
from monitor.message import Batch, Checkpoint, Message

log = structlog.get_logger(__name__)
_REF = re.compile(r"^imap://[^/]+/(?P<folder>[^;]*);UIDVALIDITY=(?P<validity>\d+)/;UID=(?P<uid>\d+)$")


class ImapConnector(Connector[ImapConfig]):
    """One IMAP account, one or more folders."""

    kind: ClassVar[str] = "imap"
    channel: ClassVar[str] = "email"
    Config: ClassVar[type[ImapConfig]] = ImapConfig

    def __init__(self, name: str, config: ImapConfig) -> None:
        super().__init__(name, config)
        self._session = ImapSession(config, source=name)
        self._watcher = FolderWatcher(self._session, config.folders)
        self._known: KnownIds | None = None
        self._warned_no_move = False

    def use_known_ids(self, lookup: KnownIds | None) -> None:
        """Let a resync skip the bodies of stored mail: ``lookup(external_ids)`` returns the known ones."""
        self._known = lookup

    # -- reading ----------------------------------------------------------------------------------
    def fetch(
        self,
        checkpoint: Checkpoint | None,
        *,
        batch_size: int = 500,
        stop: threading.Event | None = None,
    ) -> Iterator[Batch]:
        folders_state = (checkpoint or {}).get("folders", {})
        cursors = {f: FolderCursor.from_json(folders_state.get(f)) for f in self.config.folders}
        for folder in self.config.folders:
            scanner = FolderScanner(
                self._session, folder=folder, batch_size=batch_size, stop=stop, known=self._known
            )
            try:
                for items, cursor in scanner.scan(cursors[folder]):
                    cursors[folder] = cursor
                    yield Batch(
                        messages=tuple(i.message for i in items if i.message is not None),
                        quarantined=tuple(i.quarantined for i in items if i.quarantined is not None),
                        checkpoint={"folders": {f: c.to_json() for f, c in cursors.items()}},
                    )
            except Stopped:
                return
            if stop is not None and stop.is_set():
                return
            if scanner.snapshot is not None:
                self._watcher.mark(folder, *scanner.snapshot)

    def wait_for_changes(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Block up to ``timeout`` s until a folder may have new mail (IDLE, else polling).

        ``True``: call :meth:`fetch` now (new mail, a renumbering, or a dropped connection that the
        fetch will re-establish). ``False``: nothing arrived, or ``stop`` was set.
        """
        return self._watcher.wait(timeout, stop)

    def parse_raw(self, raw: bytes, raw_ref: str) -> Message:
        """Parse quarantined mail again (``yuqing quarantine retry``); BadInputError if still bad.

        The id uses ``len(raw)`` for the size, which equals RFC822.SIZE for a complete message; the
        prefix kept of an oversized mail (its raw_ref ends in RFC 5092 ``;PARTIAL=0.<n>``) is refused,
        so it cannot be stored under a wrong id.
        """
        if ";PARTIAL=" in raw_ref:
            raise BadInputError("only a prefix of this oversized mail was kept; read it on the server")
        return parse_mail(raw, source=self.name, external_id=mail_identity(header_block(raw), len(raw)),
                          raw_ref=raw_ref).message

    # -- after the core committed a batch ---------------------------------------------------------
    def after_commit(self, batch: Batch) -> None:
        """Post-store action (``after_store``: seen / move) for the batch's stored messages.

        Quarantined mail is left untouched (unread, in place) for a human to look at. Failures are
        logged, never raised: the mail is stored, only the convenience flag is missing.
        """
        if self.config.after_store == "none":
            return
        groups: dict[tuple[str, int], list[int]] = {}
        for message in batch.messages:
            match = _REF.match(message.raw_ref)
            if match and message.source == self.name:
                key = (unquote(match["folder"]), int(match["validity"]))
                groups.setdefault(key, []).append(int(match["uid"]))
        for (folder, validity), uids in groups.items():
            try:
                self._session.run(
                    _Apply(self, uids), folder=folder, uidvalidity=validity, readonly=False
                )
            except UidValidityChanged:
                log.warning("imap.after_commit_skipped", source=self.name, folder=folder,
                            reason="folder renumbered; UIDs no longer name these messages")
            except (UnavailableError, AuthError, ConfigError) as exc:
                log.warning("imap.after_commit_failed", source=self.name, folder=folder, error=str(exc))

    def apply_action(self, client: IMAPClient, uids: list[int]) -> None:
        if self.config.after_store == "seen":
            client.add_flags(uids, [SEEN])
            return
        assert self.config.move_to is not None
        if b"MOVE" in self._session.capabilities:
            client.move(uids, self.config.move_to)
            return
        # Without MOVE a move is COPY + \Deleted + EXPUNGE; we never delete, so copy and flag only.
        if not self._warned_no_move:
            log.warning("imap.no_move_capability", source=self.name, action="copied and flagged \\Seen")
            self._warned_no_move = True
        client.copy(uids, self.config.move_to)
        client.add_flags(uids, [SEEN])

    # -- operations ---------------------------------------------------------------------------------
    def check(self) -> list[str]:
        """Log in and look at every folder once (no retries); problems as operator-readable lines."""
        session = ImapSession(self.config, source=self.name)
        problems: list[str] = []
        try:
            session.connect()
        except (AuthError, UnavailableError) as exc:
            kind = "authentication/TLS" if isinstance(exc, AuthError) else "connection"
            return [f"{kind} problem: {exc}"]
        try:
            wanted = list(self.config.folders) + ([self.config.move_to] if self.config.move_to else [])
            for folder in wanted:
                try:
                    session.select(folder, readonly=True)
                except ConfigError:
                    problems.append(f"folder {folder!r} does not exist on {self.config.host}")
                except Exception as exc:  # report, don't crash check-config
                    problems.append(f"folder {folder!r}: {type(exc).__name__}: {exc}")
            if self.config.after_store == "move" and b"MOVE" not in session.capabilities:
                problems.append("server lacks MOVE: mail will be copied and flagged \\Seen, not moved")
        finally:
            session.close()
        return problems

    def close(self) -> None:
        self._session.close()

    def raw_ref(self, folder: str, uidvalidity: int, uid: int) -> str:
        """The ``raw_ref`` this connector gives the mail with that folder/UIDVALIDITY/UID."""
        return raw_ref(self.config, folder, uidvalidity, uid)


class _Apply:
    """``after_commit``'s operation for :meth:`ImapSession.run` (binds the UIDs of one folder)."""

    def __init__(self, connector: ImapConnector, uids: list[int]) -> None:
        self.connector, self.uids = connector, uids

    def __call__(self, client: IMAPClient) -> None:
        self.connector.apply_action(client, self.uids)
