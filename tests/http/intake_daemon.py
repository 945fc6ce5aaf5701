"""A running daemon with the intake on 127.0.0.1, shared by the intake tests of one module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers.builders import write_config, write_rules
from tests.helpers.daemon import DaemonProcess, wait_for, yuqing

# smallest valid files of each kind the intake accepts (type read from these bytes)
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
AMR = b"#!AMR\n" + b"\x3c" * 64
HTML = b"<!doctype html><script>alert(1)</script>"


@dataclass
class Intake:
    base: str
    config: Path
    state: Path
    keys: dict[str, str]
    daemon: DaemonProcess

    def cli(self, *args: str) -> Any:
        result = yuqing("--config", str(self.config), *args)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) if "--json" in args else result.stdout

    def ticket(self, code: str) -> dict[str, Any]:
        ticket: dict[str, Any] = self.cli("tickets", "show", code, "--json")
        return ticket


REVIEW_RULE = "rules:\n  - id: t.threat\n    keywords: {any: [炸了你们]}\n    priority: L1\n    review: true\n"


def intake_config(tmp_path: Path, **intake: Any) -> Path:
    rules = write_rules(tmp_path / "rules")
    (rules / "review.yaml").write_text(REVIEW_RULE, encoding="utf-8")  # threats wait in the review queue
    return write_config(
        tmp_path / "yuqing.yaml",
        {
            "state_dir": str(tmp_path / "state"),
            "logging": {"format": "json"},
            "rules": {"paths": [str(rules)]},
            "analysis": {"workers": 1},
            "http": {"port": 0, "max_body_mb": 2},
            "intake": {
                "enabled": True,
                "max_file_mb": 1,
                "max_message_mb": 1.5,
                "key_rate_per_minute": 8,
                "address_rate_per_minute": 1000,
                "form_min_seconds": 3,  # long enough that "sent back at once" stays so on a loaded machine
                "form_rate_per_minute": 100,
                "status_rate_per_minute": 1000,
                **intake,
            },
            "alerts": {"targets": [{"name": "c", "kind": "console"}]},
        },
    )


def start_intake(tmp_path: Path, keys: dict[str, str], **intake: Any) -> Iterator[Intake]:
    config = intake_config(tmp_path, **intake)
    assert yuqing("--config", str(config), "db", "upgrade").returncode == 0
    secrets = {}
    for name, channel in keys.items():
        result = yuqing("--config", str(config), "intake", "keys", "add", name, "--channel", channel)
        assert result.returncode == 0, result.stderr
        secrets[name] = result.stdout.strip()
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    try:
        event = wait_for(
            lambda: next((e for e in daemon.events() if e.get("event") == "http_server"), None), what="http"
        )
        yield Intake(f"http://127.0.0.1:{event['port']}", config, tmp_path / "state", secrets, daemon)
        code, _ = daemon.stop()
        assert code == 0
    finally:
        daemon.kill()
