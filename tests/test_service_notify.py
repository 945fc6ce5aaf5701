"""systemd notify protocol: READY=1 once running, watchdog pings only while the scheduler runs jobs.

A real ``AF_UNIX`` datagram socket stands in for systemd's ``$NOTIFY_SOCKET``; the daemon runs as a
subprocess exactly as ``Type=notify`` starts it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.config import SchedulerConfig
from monitor.scheduler import add_interval_job, make_scheduler
from monitor.service import WATCHDOG_JOB, ServiceNotifier
from tests.helpers.builders import write_config, write_rules
from tests.helpers.daemon import DaemonProcess, wait_for


class NotifyListener:
    """Collects what is sent to a notify socket, each datagram as text."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            for line in data.decode().splitlines():
                self.messages.append((time.monotonic(), line))

    def lines(self, since: float = 0.0) -> list[str]:
        return [line for at, line in list(self.messages) if at >= since]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[NotifyListener]:
    found = NotifyListener(tmp_path / "notify.sock")
    yield found
    found.close()


def test_without_notify_socket_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    notifier = ServiceNotifier()
    assert not notifier.active
    notifier.ready("x")  # a no-op, not an error


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [("4000000", None, 2.0), ("4000000", "self", 2.0), ("4000000", "1", None), ("0", None, None), ("", None, None)],
    ids=["half-of-WatchdogSec", "pid-is-us", "pid-is-another-process", "zero", "unset"],
)
def test_watchdog_interval_follows_the_environment(
    usec: str, pid: str | None, expected: float | None, monkeypatch: pytest.MonkeyPatch, listener: NotifyListener
) -> None:
    import os

    monkeypatch.setenv("NOTIFY_SOCKET", str(listener.path))
    monkeypatch.setenv("WATCHDOG_USEC", usec)
    if pid is None:
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
    else:
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()) if pid == "self" else pid)
    assert ServiceNotifier().watchdog_seconds == expected


def test_pings_stop_when_the_scheduler_hangs(monkeypatch: pytest.MonkeyPatch, listener: NotifyListener) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(listener.path))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    notifier = ServiceNotifier()
    assert notifier.watchdog_seconds == 0.1
    scheduler = make_scheduler(SchedulerConfig(), workers=2)
    add_interval_job(scheduler, WATCHDOG_JOB, notifier.watchdog, notifier.watchdog_seconds)
    scheduler.start()
    try:
        time.sleep(0.8)
        assert listener.lines().count("WATCHDOG=1") >= 4
        # The scheduler's own loop takes this lock to run due jobs: holding it is a real hang.
        with scheduler._jobstores_lock:
            time.sleep(0.3)  # let a ping already on its way arrive
            hung_at = time.monotonic()
            time.sleep(0.8)
            assert "WATCHDOG=1" not in listener.lines(since=hung_at)
        time.sleep(0.6)
        assert "WATCHDOG=1" in listener.lines(since=hung_at + 0.8), "pings resume once the scheduler runs again"
    finally:
        scheduler.shutdown(wait=False)


def test_daemon_says_ready_pings_the_watchdog_and_says_stopping(
    tmp_path: Path, listener: NotifyListener
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    config = write_config(
        tmp_path / "c.yaml",
        {
            "state_dir": str(tmp_path / "state"),
            "logging": {"format": "json", "level": "info"},
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "sources": [{"name": "drop", "kind": "files", "files": {"path": str(inbox), "settle_seconds": 0}}],
        },
    )
    daemon = DaemonProcess(
        config, tmp_path / "daemon.log", env={"NOTIFY_SOCKET": str(listener.path), "WATCHDOG_USEC": "600000"}
    )
    try:
        wait_for(lambda: "READY=1" in listener.lines(), timeout=60, what="READY=1")
        assert any(line.startswith("STATUS=watching 1 sources") for line in listener.lines())
        ready_at = next(at for at, line in listener.messages if line == "READY=1")
        wait_for(lambda: listener.lines(since=ready_at).count("WATCHDOG=1") >= 3, timeout=10, what="pings")
        code, _ = daemon.stop()
        assert code == 0
        assert "STOPPING=1" in listener.lines()
    finally:
        daemon.kill()
