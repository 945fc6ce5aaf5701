"""The daemon with an IMAP source: new mail is ticketed and alerted through IDLE, not the poll timer."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.connectors.imap.conftest import make_mail
from tests.connectors.imap.dovecot import PASSWORD, USER, Dovecot
from tests.helpers.builders import write_config, write_rules
from tests.helpers.daemon import DaemonProcess, scalar, wait_for


def test_daemon_sees_new_mail_through_idle_and_pages(dovecot: Dovecot, tmp_path: Path) -> None:
    folder = "daemon-idle"
    dovecot.create_folder(folder)
    password = tmp_path / "imap-password"
    password.write_text(PASSWORD, encoding="utf-8")
    config = write_config(
        tmp_path / "c.yaml",
        {
            "state_dir": str(tmp_path),
            "logging": {"format": "json"},
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "scheduler": {"jitter_seconds": 0, "outbox_interval_seconds": 0.5},
            "sources": [
                {
                    "name": "mailbox",
                    "kind": "imap",
                    "interval_seconds": 3600,  # only IDLE can make the daemon look again in time
                    "imap": {
                        "host": dovecot.host,
                        "port": dovecot.port,
                        "security": "plain",
                        "username": USER,
                        "password_file": str(password),
                        "folders": [folder],
                    },
                }
            ],
            "alerts": {
                "targets": [
                    {"name": "file", "kind": "jsonl", "jsonl": {"path": str(tmp_path / "alerts.jsonl")}}
                ]
            },
        },
    )
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    db = tmp_path / "yuqing.db"
    try:
        wait_for(lambda: any(e.get("event") == "started" for e in daemon.events()), what="start")
        time.sleep(1.5)  # first poll done and the IDLE watcher connected
        started = time.monotonic()
        dovecot.append(folder, [make_mail(1, subject="紧急：设备冒烟")])
        wait_for(
            lambda: scalar(db, "select count(*) from messages") == 1, timeout=20, interval=0.05, what="stored"
        )
        seen_after = time.monotonic() - started
        wait_for(lambda: (tmp_path / "alerts.jsonl").exists(), timeout=10, what="alert")
        code, _ = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0
    assert seen_after < 10, (
        f"new mail took {seen_after:.1f} s; the poll timer is 1 h, so only IDLE can explain < 10 s"
    )
    (alert,) = [
        json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert alert["priority"] == "L1" and alert["channel"] == "email"
    assert PASSWORD not in daemon.output()
    print(f"IDLE: stored {seen_after:.2f} s after APPEND")
