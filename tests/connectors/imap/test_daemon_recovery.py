"""The daemon recovers by itself (issue 17), against a real Dovecot and the real daemon process.

* The password database goes missing for 60 s (every login: AUTHENTICATIONFAILED), then is back:
  the paused source is re-probed with capped backoff, every mail is fetched within two intervals
  of the recovery, and the operator hears exactly once that it broke and once that it works.
* The server is down for 45 s: new mail is stored within one interval of its return (the daemon
  adds no backoff of its own on top of the connector's reconnect backoff).

The durations are the real ones: how soon a re-probe follows the recovery depends on how long
the backoff has grown, so a shorter outage would not test the same thing.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from tests.connectors.imap.conftest import make_mail
from tests.connectors.imap.dovecot import PASSWORD, USER, Dovecot
from tests.helpers.builders import write_config, write_rules
from tests.helpers.daemon import DaemonProcess, scalar, wait_for

# Dovecot delays logins from an address with failed logins by up to 15 s (its auth penalty), so a
# re-probe can take 15 s longer than the daemon's wait: the auth test uses 20 s intervals.
AUTH_INTERVAL = 20.0
INTERVAL = 10.0


def config(tmp_path: Path, server: Dovecot, folder: str, interval: float = INTERVAL) -> Path:
    password = tmp_path / "imap-password"
    password.write_text(PASSWORD, encoding="utf-8")
    return write_config(
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
                    "interval_seconds": interval,
                    "imap": {
                        "host": server.host,
                        "port": server.port,
                        "security": "plain",
                        "username": USER,
                        "password_file": str(password),
                        "folders": [folder],
                        "connect_timeout": 3,
                        # one reconnect step is shorter than the poll interval (the default 60 s
                        # backoff_max equals the default interval); the rest is the fetch itself
                        "backoff_max": interval * 0.8,
                    },
                }
            ],
            "alerts": {
                "targets": [{"name": "ops", "kind": "jsonl", "jsonl": {"path": str(tmp_path / "alerts.jsonl")}}]
            },
        },
    )


def operator_notices(tmp_path: Path) -> list[tuple[str, str]]:
    path = tmp_path / "alerts.jsonl"
    if not path.exists():
        return []
    rows: list[dict[str, Any]] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    # only the sources' problems: the SLA job adds its own (from November, a calendar warning when
    # next year's holidays are not known yet), which this test is not about
    return [
        (r["problem"], r["state"])
        for r in rows
        if r.get("kind") == "operator" and str(r.get("problem", "")).startswith("source-")
    ]


def stored(db: Path) -> int:
    return int(scalar(db, "select count(*) from messages") or 0)


def test_rejected_logins_for_60_s_then_all_mail_within_two_intervals_one_alert_one_recovery(
    own_dovecot: Dovecot, tmp_path: Path
) -> None:
    folder = "recover-auth"
    own_dovecot.create_folder(folder)
    passwd, moved = own_dovecot.root / "passwd", own_dovecot.root / "passwd.missing"
    os.rename(passwd, moved)  # the password database is missing: every login fails
    daemon = DaemonProcess(config(tmp_path, own_dovecot, folder, AUTH_INTERVAL), tmp_path / "daemon.log")
    db = tmp_path / "yuqing.db"
    try:
        wait_for(lambda: any(e.get("event") == "source_disabled" for e in daemon.events()), timeout=30, what="auth")
        broke = time.monotonic()
        own_dovecot.deliver(folder, [make_mail(n, subject="投诉 退款") for n in range(30)])
        wait_for(lambda: operator_notices(tmp_path), timeout=20, what="operator alert")
        time.sleep(max(0.0, 60 - (time.monotonic() - broke)))
        os.rename(moved, passwd)  # back
        back = time.monotonic()
        wait_for(lambda: stored(db) == 30, timeout=4 * AUTH_INTERVAL, interval=0.1, what="30 mails")
        fetched_after = time.monotonic() - back
        wait_for(lambda: len(operator_notices(tmp_path)) == 2, timeout=15, what="recovery notice")
        time.sleep(1.0)  # nothing more arrives
        code, _ = daemon.stop()
    finally:
        daemon.kill()
    events = daemon.events()
    probes = [e for e in events if e.get("event") == "source_reprobe_failed"]
    print(f"auth outage 60 s: {len(probes)} failed re-probes; all 30 mails {fetched_after:.1f} s after recovery")
    assert code == 0
    assert fetched_after <= 2 * AUTH_INTERVAL, f"{fetched_after:.1f} s > two intervals ({2 * AUTH_INTERVAL} s)"
    assert operator_notices(tmp_path) == [("source-auth:mailbox", "open"), ("source-auth:mailbox", "fixed")]
    assert 2 <= len(probes) <= 60 / (AUTH_INTERVAL / 4), "re-probed, with backoff (not every second)"
    assert any(e.get("event") == "source_recovered" for e in events)
    assert PASSWORD not in daemon.output()


def test_a_45_s_server_outage_delays_new_mail_by_at_most_one_interval(own_dovecot: Dovecot, tmp_path: Path) -> None:
    folder = "recover-outage"
    own_dovecot.create_folder(folder)
    own_dovecot.append(folder, [make_mail(0)])
    daemon = DaemonProcess(config(tmp_path, own_dovecot, folder), tmp_path / "daemon.log")
    db = tmp_path / "yuqing.db"
    try:
        wait_for(lambda: stored(db) == 1, timeout=30, what="first mail")
        own_dovecot.stop()
        down = time.monotonic()
        own_dovecot.deliver(folder, [make_mail(1, subject="投诉 发货")])  # arrives while the server is down
        time.sleep(45)
        own_dovecot.start()
        back = time.monotonic()
        wait_for(lambda: stored(db) == 2, timeout=4 * INTERVAL, interval=0.1, what="new mail")
        after = time.monotonic() - back
        code, _ = daemon.stop()
    finally:
        daemon.kill()
    failed = [e for e in daemon.events() if e.get("event") == "poll_failed"]
    print(f"server down {back - down:.0f} s: new mail stored {after:.1f} s after it returned; {len(failed)} failed polls")
    assert code == 0
    assert after <= INTERVAL, f"{after:.1f} s after the server returned (interval {INTERVAL} s)"
    assert failed, "the outage was seen"
