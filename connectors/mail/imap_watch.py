"""Block until a watched IMAP folder has new mail: IDLE where offered, STATUS polling otherwise.

The daemon loops ``fetch`` → ``wait_for_changes`` → ``fetch``. A *mark* per folder remembers
``(UIDVALIDITY, UIDNEXT)`` as of the end of the last fetch; any difference means new mail (or a
renumbering) and the wait returns ``True`` at once. IDLE watches the first folder (RFC 2177 allows
one selected folder per connection) and is re-issued every ``idle_reissue`` seconds, before the
29-minute limit; further folders are checked with STATUS every ``poll_interval`` meanwhile. A broken
connection also returns ``True``: the next ``fetch`` reconnects with backoff and reports the outage.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import structlog

from connectors.mail.imap_session import TRANSIENT, ImapSession
from monitor.errors import UnavailableError

log = structlog.get_logger(__name__)
_WAIT_ERRORS: tuple[type[BaseException], ...] = (*TRANSIENT, UnavailableError)
_STOP_CHECK = 0.5  # seconds between looks at the stop event while idling


class FolderWatcher:
    """Remembers where the last fetch ended and waits for anything newer."""

    def __init__(self, session: ImapSession, folders: tuple[str, ...]) -> None:
        self.session = session
        self.folders = folders
        self.marks: dict[str, tuple[int, int | None]] = {}

    def mark(self, folder: str, uidvalidity: int, uidnext: int | None) -> None:
        self.marks[folder] = (uidvalidity, uidnext)

    def _changed(self, folders: tuple[str, ...] | None = None) -> bool:
        client = self.session.connect()
        folders = folders or self.folders
        selected = self.session.selected
        if selected is not None and selected[0] in folders:
            # STATUS of the selected folder may answer from this session's stale view (RFC 3501
            # 6.3.10); UNSELECT leaves it without expunging (CLOSE could delete \Deleted mail).
            if b"UNSELECT" in self.session.capabilities:
                client.unselect_folder()
                self.session.selected = None
            else:
                client.noop()
        for folder in folders:
            if folder not in self.marks:
                return True
            status = client.folder_status(folder, [b"UIDVALIDITY", b"UIDNEXT"])
            now = (int(status[b"UIDVALIDITY"]), int(status[b"UIDNEXT"]) if b"UIDNEXT" in status else None)
            if now != self.marks[folder]:
                return True
        return False

    def wait(self, timeout: float, stop: threading.Event | None) -> bool:
        """True when there is (or may be) something new to fetch, False after ``timeout``."""
        deadline = time.monotonic() + timeout
        try:
            if self._changed():
                return True
            if self.session.config.idle and b"IDLE" in self.session.capabilities:
                return self._idle(deadline, stop)
            return self._poll(deadline, stop)
        except _WAIT_ERRORS as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.info("imap.wait_interrupted", source=self.session.source, error=error)
            self.session.drop()
            return True

    def _poll(self, deadline: float, stop: threading.Event | None) -> bool:
        while True:
            pause = min(self.session.config.poll_interval, deadline - time.monotonic())
            if pause <= 0:
                return False
            if stop is not None:
                if stop.wait(pause):
                    return False
            else:
                time.sleep(pause)
            if self._changed():
                return True

    def _idle(self, deadline: float, stop: threading.Event | None) -> bool:
        config, session = self.session.config, self.session
        primary, others = self.folders[0], self.folders[1:]
        session.select(primary, readonly=True)
        client = session.connect()
        client.idle()
        idling = True
        started = last_status = time.monotonic()
        quick_empty = 0
        try:
            while True:
                now = time.monotonic()
                if now >= deadline or (stop is not None and stop.is_set()):
                    return False
                due = started + config.idle_reissue
                if others:
                    due = min(due, last_status + config.poll_interval)
                slice_ = max(0.0, min(_STOP_CHECK if stop is not None else 30.0, deadline - now, due - now))
                responses = client.idle_check(timeout=slice_)
                if _has_new_mail(responses):
                    return True
                # imapclient swallows EOF and returns []: a dead socket answers "at once" forever.
                quick_empty = quick_empty + 1 if not responses and time.monotonic() - now < slice_ / 2 else 0
                if quick_empty >= 3:
                    raise ConnectionError("server closed the IDLE connection")
                now = time.monotonic()
                if now - started >= config.idle_reissue:
                    # Mail that arrives between DONE and the next IDLE is reported to DONE or NOOP.
                    idling = False
                    seen = client.idle_done()[1] + client.noop()[1]
                    if _has_new_mail(seen):
                        return True
                    client.idle()
                    idling = True
                    started = now
                    log.info("imap.idle_reissued", source=session.source, folder=primary)
                if others and now - last_status >= config.poll_interval:
                    idling = False
                    if _has_new_mail(client.idle_done()[1]):
                        return True
                    changed = self._changed(others)
                    client.idle()
                    idling = True
                    last_status = started = time.monotonic()
                    if changed:
                        return True
        finally:
            if idling:
                try:
                    client.idle_done()
                except Exception:  # the connection is unusable; the next call reconnects
                    session.drop()


def _has_new_mail(responses: list[Any]) -> bool:
    return any(isinstance(r, tuple) and len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)
