"""Talking to systemd: readiness, status, reload/stop notices and a watchdog that means progress.

``Type=notify`` units wait for ``READY=1``; the daemon sends it once migrations ran and every
source is scheduled. With ``WatchdogSec=`` systemd restarts the service when ``WATCHDOG=1`` pings
stop. Pings are sent by a job *of the scheduler* (:data:`WATCHDOG_JOB`), so they stop when the
scheduler stops running jobs - a hung scheduler gets restarted, a busy one does not. The protocol
is spoken by ``cysystemd`` (a maintained binding of libsystemd's ``sd_notify``); outside systemd
(no ``$NOTIFY_SOCKET``) every call is a no-op.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import structlog

log = structlog.get_logger("yuqing")

WATCHDOG_JOB = "housekeeping:watchdog"


def _sd_notify() -> Callable[[str], None] | None:
    if not os.environ.get("NOTIFY_SOCKET"):
        return None
    try:
        from cysystemd.daemon import Notification, notify
    except ImportError:  # not Linux, or the wheel is missing: run without notifications
        log.warning("systemd.notify_unavailable", note="cysystemd is not installed")
        return None
    def send(line: str) -> None:
        key, _, value = line.partition("=")
        kind = Notification[key]
        if kind.value.constant is None:
            notify(kind, value, return_exceptions=False)
        else:
            notify(kind, return_exceptions=False)

    return send


class ServiceNotifier:
    """sd_notify messages for the daemon's life: ready, reloading, stopping, status, watchdog."""

    def __init__(self) -> None:
        self._send = _sd_notify()
        self._lock = threading.Lock()
        self.watchdog_seconds = self._watchdog_interval()

    @staticmethod
    def _watchdog_interval() -> float | None:
        """Half of ``WatchdogSec=`` (systemd's advice), or None when the watchdog is off for us."""
        usec = os.environ.get("WATCHDOG_USEC", "")
        pid = os.environ.get("WATCHDOG_PID", "")
        if not usec.isdigit() or int(usec) <= 0 or (pid and pid != str(os.getpid())):
            return None
        return int(usec) / 1_000_000 / 2

    @property
    def active(self) -> bool:
        return self._send is not None

    def _notify(self, *lines: str) -> None:
        if self._send is None:
            return
        with self._lock:
            for line in lines:
                try:
                    self._send(line)
                except OSError as exc:  # the manager went away: nothing to tell
                    log.warning("systemd.notify_failed", message=line.split("=")[0], error=str(exc))

    def ready(self, status: str) -> None:
        self._notify("READY=1", f"STATUS={status}")

    def reloading(self) -> None:
        self._notify("RELOADING=1", "STATUS=reloading")

    def stopping(self) -> None:
        self._notify("STOPPING=1", "STATUS=stopping")

    def status(self, text: str) -> None:
        self._notify(f"STATUS={text}")

    def watchdog(self) -> None:
        """One ping; called by the scheduler's watchdog job, so it only happens while jobs run."""
        self._notify("WATCHDOG=1")
