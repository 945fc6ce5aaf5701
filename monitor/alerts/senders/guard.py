"""Keeps a target whose receiver rejected our credentials from being tried again and again.

:class:`GuardedSender` wraps a target's sender: an ``AUTH`` outcome (401/403, a hook that does not
exist, SMTP 535) disables the target in the database (``monitor.alerts.target_state``) and calls
``on_disabled`` once - the runtime raises the ``sender-auth:<target>`` operator problem there.
While the target is disabled its alerts fail at once with a reason naming the way back
(``yuqing alerts enable``); they are queued again when it is enabled. The disabled set is read
from the database at the first send and then, after sends, at most every ``refresh_seconds``, so
an ``alerts enable`` (or a disable by another instance) is seen within a few seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from monitor.alerts.senders.base import Outcome, Sender, SendResult
from monitor.alerts.target_state import disable, disabled_targets
from monitor.storage.db import Database
from monitor.targets import TargetConfig

log = structlog.get_logger("yuqing.alerts")


class TargetGuard:
    """The disabled targets (cached) and what happens when one is rejected."""

    def __init__(
        self,
        db: Database,
        targets: Mapping[str, TargetConfig],
        on_disabled: Callable[[str, str], None],
        *,
        refresh_seconds: float = 5.0,
    ) -> None:
        self.db = db
        self.targets = dict(targets)
        self.on_disabled = on_disabled
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._disabled: dict[str, str] = {}
        self._read_at = float("-inf")

    def disabled(self, name: str, *, fresh: bool = False) -> str | None:
        """Why ``name`` is disabled, or None. The database is read the first time, or when
        ``fresh`` (before failing an alert: ``alerts enable`` may have run a moment ago)."""
        with self._lock:
            if fresh or self._read_at == float("-inf"):
                self._refresh()
            return self._disabled.get(name)

    def refresh_if_due(self) -> None:
        """Re-read the disabled set when it is older than ``refresh_seconds``. Called after a
        send, never before one: on SQLite every transaction waits for the write lock, which must
        not delay an alert on its way out."""
        with self._lock:
            if time.monotonic() - self._read_at >= self.refresh_seconds:
                self._refresh()

    def _refresh(self) -> None:
        try:
            self._disabled = disabled_targets(self.db)
        except Exception as exc:  # database away: keep the last known set, sends go on
            log.warning("target_state_unreadable", error=f"{type(exc).__name__}: {exc}")
        self._read_at = time.monotonic()

    def rejected(self, name: str, detail: str, alert_id: int | None) -> None:
        target = self.targets.get(name)
        if target is None:
            return
        if disable(self.db, target, detail, alert_id):
            log.error("target_disabled", target=name, reason=detail)
            self.on_disabled(name, detail)
        with self._lock:
            self._disabled[name] = detail


class GuardedSender(Sender):
    """Proxy of one target's sender that consults and feeds the :class:`TargetGuard`."""

    def __init__(self, inner: Sender, guard: TargetGuard) -> None:
        super().__init__(inner.name, inner.config)
        self.inner = inner
        self.guard = guard
        self.kind = inner.kind  # type: ignore[misc]  # a proxy mirrors the class flags of its sender
        self.group_chat = inner.group_chat  # type: ignore[misc]  # (same)

    def send(self, payload: dict[str, Any]) -> SendResult:
        reason = self.guard.disabled(self.name)
        if reason is not None:
            reason = self.guard.disabled(self.name, fresh=True)  # rare path: confirm before failing
        if reason is not None:
            return SendResult(
                Outcome.FATAL,
                f"目标已停用 target disabled ({reason[:200]}); 修正后 fix, then: yuqing alerts enable {self.name}",
            )
        result = self.inner.send(payload)
        if result.outcome is Outcome.AUTH:
            alert_id = payload.get("id")
            self.guard.rejected(self.name, result.detail, int(alert_id) if isinstance(alert_id, int) else None)
        self.guard.refresh_if_due()
        return result

    def longest_send_seconds(self) -> float:
        return self.inner.longest_send_seconds()

    def close(self) -> None:
        self.inner.close()

    def check(self) -> list[str]:
        return self.inner.check()


def guard_senders(senders: Mapping[str, Sender], guard: TargetGuard) -> dict[str, Sender]:
    return {name: GuardedSender(sender, guard) for name, sender in senders.items()}
