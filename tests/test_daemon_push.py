"""Push-capable sources (IMAP IDLE) are polled the moment they report a change."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import ClassVar

from connectors.files import FilesConnector
from monitor.config import load_config
from monitor.daemon import Daemon
from tests.helpers.builders import write_config, write_rules
from tests.helpers.daemon import wait_for


class PushingFiles(FilesConnector):
    """The files connector plus a push signal the test controls (as IDLE would)."""

    kind: ClassVar[str] = "files"
    changed = threading.Event()

    def wait_for_changes(self, timeout: float, stop: threading.Event | None = None) -> bool:
        fired = self.changed.wait(min(timeout, 0.2))
        self.changed.clear()
        return fired


def test_a_push_makes_the_daemon_poll_now_instead_of_at_the_next_interval(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = write_config(
        tmp_path / "c.yaml",
        {
            "state_dir": str(tmp_path),
            "logging": {"format": "json", "level": "warning"},
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "sources": [
                {
                    "name": "push",
                    "kind": "files",
                    "interval_seconds": 3600,
                    "files": {"path": str(inbox), "settle_seconds": 0},
                }
            ],
        },
    )
    daemon = Daemon(path, load_config(path))
    daemon.runtime.db.upgrade()
    connector = PushingFiles("push", daemon.runtime.connectors["push"].config)  # type: ignore[arg-type]
    daemon.runtime.connectors["push"] = connector
    runner = threading.Thread(target=daemon.run_forever)
    runner.start()
    try:
        time.sleep(1.0)  # the first (immediate) poll has run and found nothing
        (inbox / "a.jsonl").write_text(json.dumps({"id": "1", "text": "紧急"}) + "\n", encoding="utf-8")
        started = time.monotonic()
        PushingFiles.changed.set()
        from monitor.storage.models import StoredMessage

        def stored() -> bool:
            with daemon.runtime.db.read() as session:
                return session.query(StoredMessage).count() == 1

        wait_for(stored, timeout=10, interval=0.05, what="push-triggered poll")
        assert time.monotonic() - started < 5, "polled on push, not after the 1 h interval"
    finally:
        daemon.request_stop()
        runner.join(15)
    assert not runner.is_alive()
