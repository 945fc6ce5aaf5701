"""Stable message ids for chat exports: a hash of chat, time, sender and text.

Exports carry no id that survives a re-export (WhatsApp has none at all), so the id is derived
from what a message *is*. Identical repeats (the same sender sending "ok" twice in the same
minute) get an occurrence number. The count restarts whenever the (chat, time) pair changes, so
it depends only on messages next to each other and fits in a checkpoint: a file read in one go
and a file read in pieces give every message the same id, and so does a re-export of the file.
"""

from __future__ import annotations

from hashlib import blake2b
from typing import Any


class StableIds:
    """Assigns ids for one file; :meth:`state` / the constructor carry it across checkpoints."""

    def __init__(self, prefix: str, state: dict[str, Any] | None = None) -> None:
        self._prefix = prefix
        state = state or {}
        window = state.get("window")
        self._window: tuple[str, int] | None = (str(window[0]), int(window[1])) if window else None
        self._counts: dict[str, int] = dict(state.get("counts") or {})

    def assign(self, chat: str, millis: int, sender: str, text: str) -> str:
        digest = blake2b(f"{chat}\x1f{millis}\x1f{sender}\x1f{text}".encode(), digest_size=12).hexdigest()
        window = (chat, millis)
        if window != self._window:
            self._window = window
            self._counts = {}
        seen = self._counts.get(digest, 0)
        self._counts[digest] = seen + 1
        return f"{self._prefix}:{digest}" if seen == 0 else f"{self._prefix}:{digest}.{seen}"

    def state(self) -> dict[str, Any]:
        return {"window": list(self._window) if self._window else None, "counts": dict(self._counts)}
