"""The daemon serves its HTTP application on 127.0.0.1 and stops it with the daemon."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from tests.helpers.builders import write_config, write_rules
from tests.helpers.daemon import DaemonProcess, wait_for


def test_the_daemon_serves_ack_links_and_openapi_and_stops_cleanly(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "yuqing.yaml",
        {
            "state_dir": str(tmp_path / "state"),
            "logging": {"format": "json"},
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "analysis": {"workers": 1},
            "http": {"port": 0},
            "alerts": {"ack": {"enabled": True}, "targets": [{"name": "c", "kind": "console"}]},
        },
    )
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    try:
        event = wait_for(
            lambda: next((e for e in daemon.events() if e.get("event") == "http_server"), None), what="http"
        )
        assert event["listen"] == "127.0.0.1" and event["port"] > 0
        base = f"http://127.0.0.1:{event['port']}"
        try:
            urllib.request.urlopen(f"{base}/ack?code=INC-1&exp=1&sig=00", timeout=5)
            raise AssertionError("an unsigned link was accepted")
        except urllib.error.HTTPError as exc:
            assert exc.code == 403 and "链接无效 Invalid link" in exc.read().decode()
        with urllib.request.urlopen(f"{base}/api/v1/openapi.json", timeout=5) as response:
            assert response.status == 200
        code, seconds = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0 and seconds < 10
