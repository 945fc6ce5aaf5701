"""Send lanes: one thread per target with a send in flight, so a slow receiver holds only itself.

The outbox's delivery loop (``Outbox.deliver``) is the only code that touches the database. It
claims at most one row per target whose lane is free, and hands each row to a lane: a daemon
thread named ``outbox:<target>`` that runs the send and reports its outcome back here. The loop
records the outcome in its next transaction, before it claims that target's next row, so a
target's alerts go out in order and one at a time while other targets proceed.

Lanes write nothing: on SQLite the delivery loop stays the one writer that the poll thread hands
the lock to between batches (``monitor.alerts.worker``). Lane threads are daemon threads, so a
receiver hanging until its read timeout never holds up the process's exit; the row it was
sending stays claimed and is released at start-up (``Outbox.release_own_claims``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger("yuqing.alerts")


@dataclass(frozen=True, slots=True)
class Delivered:
    """One send's outcome, recorded in the next delivery transaction."""

    row_id: int
    target: str
    status: str  # sent / retry / failed
    values: dict[str, Any]


class Lanes:
    """Which targets have a send in flight, and the outcomes not yet recorded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: dict[str, int] = {}  # target -> alert id in flight or with its outcome unrecorded
        self._finished: list[Delivered] = []
        self.activity = threading.Event()  # a lane finished, or new rows were committed

    def busy(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._busy)

    def in_flight(self) -> int:
        with self._lock:
            return len(self._busy)

    def start(self, target: str, row_id: int, send: Callable[[], Delivered]) -> None:
        """Run ``send`` on the target's lane; the target must not be busy."""
        with self._lock:
            if target in self._busy:
                raise RuntimeError(f"target {target!r} already has alert {self._busy[target]} in flight")
            self._busy[target] = row_id
        threading.Thread(target=self._run, args=(target, send), name=f"outbox:{target}", daemon=True).start()

    def _run(self, target: str, send: Callable[[], Delivered]) -> None:
        try:
            delivered = send()
        except Exception:  # a bug, not a receiver failure: the row stays claimed until its lease ends
            log.exception("lane_crashed", target=target)
            with self._lock:
                self._busy.pop(target, None)
        else:
            with self._lock:
                self._finished.append(delivered)
        self.activity.set()

    def take_finished(self) -> list[Delivered]:
        """The outcomes to record now; their targets are free again once this returns."""
        with self._lock:
            done, self._finished = self._finished, []
            for item in done:
                self._busy.pop(item.target, None)
            return done

    def give_back(self, done: Iterable[Delivered]) -> None:
        """The transaction recording ``done`` failed: record them in the next one."""
        items = list(done)
        with self._lock:
            self._finished[:0] = items
            for item in items:
                self._busy[item.target] = item.row_id
