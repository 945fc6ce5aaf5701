"""Sliding-window rate limits kept in memory (per API key, per address, per lookup).

One daemon serves the intake, so memory is enough; a restart forgets the windows, which only
ever lets a client through sooner.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol


class Limiter(Protocol):
    def allow(self, key: str, limit: int) -> float:
        """0.0 when ``key`` may go ahead (and counts it); otherwise seconds until it may retry."""
        ...


class RateLimiter:
    def __init__(self, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window, self.clock = window, clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._swept = clock()

    def allow(self, key: str, limit: int) -> float:
        """0.0 when ``key`` may go ahead (and counts it); otherwise seconds until it may retry."""
        now = self.clock()
        with self._lock:
            if now - self._swept > self.window:
                self._sweep(now)
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= self.window:
                hits.popleft()
            if len(hits) >= limit:
                return max(0.001, self.window - (now - hits[0]))
            hits.append(now)
            return 0.0

    def _sweep(self, now: float) -> None:
        self._swept = now
        for key in [k for k, v in self._hits.items() if not v or now - v[-1] >= self.window]:
            del self._hits[key]
