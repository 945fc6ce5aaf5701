"""Run the real daemon as a subprocess and wait for what it does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]


def yuqing(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class DaemonProcess:
    def __init__(self, config: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self.handle = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(config), "run"],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=self.handle,
            stderr=subprocess.STDOUT,
        )

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self, timeout: float = 15) -> tuple[int, float]:
        """SIGTERM; returns (exit code, seconds it took)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self.handle.close()
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.handle.close()

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return out

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def wait_for(predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.2, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


def scalar(db_path: Path, sql: str) -> Any:
    if not db_path.exists():
        return None
    engine = create_engine(f"sqlite:///{db_path}")
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    except Exception:
        return None
    finally:
        engine.dispose()


class EmbeddedDaemon:
    """The real :class:`monitor.daemon.Daemon` running ``run_forever`` in a thread of the test
    (signals are not installed off the main thread; :meth:`stop` asks it to stop)."""

    def __init__(self, config: Path) -> None:
        import threading

        from monitor.config import load_config
        from monitor.daemon import Daemon

        self.daemon = Daemon(config, load_config(config))
        self.daemon.runtime.db.upgrade()
        self.code: int | None = None
        self.thread = threading.Thread(target=self._run, name="embedded-daemon", daemon=True)

    def _run(self) -> None:
        self.code = self.daemon.run_forever()

    def __enter__(self) -> EmbeddedDaemon:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, timeout: float = 20) -> int | None:
        self.daemon.request_stop()
        self.thread.join(timeout)
        return self.code
