"""SQLite WAL checkpoints in a thread of their own, off the commit path (issue 13).

SQLite's automatic checkpoint runs inside the COMMIT that takes the write-ahead log past
``wal_autocheckpoint`` pages (1,000 by default): that commit copies the log into the database
file and syncs it. A pipeline transaction writes ~44 pages (messages, tickets, clusters, stories
and their indexes), so every ~23rd intake group paid for a checkpoint - its commit took ~10 ms,
up to 20 ms, instead of 0.2 ms, while the group's requests and the queue behind them waited
(measured in-process, 600 groups of 3, two runs: commit p99 16/19 ms, max 21/29 ms, 44/48 commits
over 5 ms; with the checkpoints here p99 1.5/4.5 ms, max 4.3/5.1 ms, 0/1 over 5 ms).

The daemon runs a passive checkpoint every ``interval`` seconds on a connection of its own
instead. A passive checkpoint never takes the write lock (writers go on appending to the log
meanwhile) and the ``sqlite3`` module releases the GIL while it runs, so neither the writers nor
the HTTP thread wait for it. The automatic checkpoint stays on as a backstop at
:data:`BACKSTOP_PAGES`, so the log stays bounded if this thread stops or falls behind.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import structlog

log = structlog.get_logger("yuqing.storage")
BACKSTOP_PAGES = 10_000
"""``wal_autocheckpoint`` while a background checkpointer runs (~40 MB of log at 4 KiB pages)."""
RESTART_PAGES = 2_000
"""A log this long, all copied, is restarted from its beginning (see :meth:`WalCheckpointer.checkpoint`)."""


class WalCheckpointer:
    """A daemon thread that checkpoints one SQLite database's log every ``interval`` seconds."""

    def __init__(
        self, path: Path, turn: Callable[[], AbstractContextManager[None]], interval: float = 0.25
    ) -> None:
        self.path, self.turn, self.interval = path, turn, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self.runs = self.restarts = 0

    def start(self) -> WalCheckpointer:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def checkpoint(self, connection: sqlite3.Connection) -> None:
        """Copy the log into the database without waiting for anyone (PASSIVE). A writer
        restarts the log from its beginning only when it finds it all copied, which a steady
        stream of commits seldom leaves: once the log is :data:`RESTART_PAGES` long and all
        copied, take this process's write turn (``turn``: no writer of ours runs) and restart
        it - nothing is left to copy or sync then, and it does not wait for readers (busy timeout
        0), so the turn is held briefly."""
        _, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if frames >= RESTART_PAGES and copied == frames:
            with self.turn():  # no busy wait: a reader still in the log makes it give up until next time
                busy, _, _ = connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            self.restarts += not busy
        self.runs += 1

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.checkpoint(connection)
                except sqlite3.Error as exc:  # the backstop checkpoints meanwhile; try again next time
                    log.warning("wal_checkpoint_failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()
