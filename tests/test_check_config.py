"""``check-config``: ack links must open on a phone; every sender's endpoint is reached (nothing sent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers.builders import write_config, write_rules
from tests.helpers.daemon import yuqing
from tests.helpers.receiver import receiver


def config(tmp_path: Path, targets: list[dict[str, Any]], ack: dict[str, Any] | None = None) -> Path:
    return write_config(
        tmp_path / "c.yaml",
        {
            "state_dir": str(tmp_path),
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "alerts": {"targets": targets, **({"ack": ack} if ack else {})},
        },
    )


@pytest.mark.parametrize(
    ("ack", "code", "expected"),
    [
        ({"enabled": True}, 2, "ack links are enabled without a public_url"),
        ({"enabled": True, "public_url": "http://127.0.0.1:8787"}, 0, "警告 warning: alerts.ack.public_url"),
        ({"enabled": True, "public_url": "http://localhost:8787"}, 0, "is a loopback address"),
        ({"enabled": True, "public_url": "ftp://yuqing.example.com"}, 2, "is not an http(s) URL"),
        ({"enabled": True, "public_url": "https://yuqing.example.com"}, 0, ""),
        ({"enabled": False}, 0, ""),
    ],
    ids=["no-public-url", "loopback-ip", "localhost", "not-http", "public-https", "links-off"],
)
def test_ack_links_must_open_on_a_phone(tmp_path: Path, ack: dict[str, Any], code: int, expected: str) -> None:
    result = yuqing("--config", str(config(tmp_path, [{"name": "c", "kind": "console"}], ack)), "check-config")
    assert result.returncode == code, result.stderr
    if expected:
        assert expected in result.stderr
    else:  # no warning about links (this configuration has no roles: that warning is expected)
        about_links = [w for w in result.stderr.splitlines() if "warning" in w and "no roles configured" not in w]
        assert about_links == [] and "OK" in result.stdout


def test_every_sender_endpoint_is_reached_without_sending(tmp_path: Path) -> None:
    with receiver() as r:
        targets = [
            {"name": "hook", "kind": "webhook", "webhook": {"url": f"{r.url}/hook"}},
            {"name": "wecom", "kind": "wecom", "wecom": {"key": "K", "base_url": r.url}},
            {"name": "file", "kind": "jsonl", "jsonl": {"path": str(tmp_path / "out" / "a.jsonl")}},
        ]
        result = yuqing("--config", str(config(tmp_path, targets)), "check-config")
        posted = list(r.requests)
    assert result.returncode == 0, result.stderr
    assert "3 alert targets" in result.stdout
    assert posted == [], "a check sends nothing"


def test_an_unreachable_sender_fails_the_check_and_no_connect_skips_it(tmp_path: Path) -> None:
    targets = [
        {"name": "dead", "kind": "dingtalk",
         "dingtalk": {"access_token": "T", "base_url": "http://127.0.0.1:9", "connect_timeout_seconds": 1}},
        {"name": "nofile", "kind": "jsonl", "jsonl": {"path": str(tmp_path / "plain" / "a.jsonl")}},
    ]
    (tmp_path / "plain").write_text("a file, not a folder")
    path = config(tmp_path, targets)
    checked = yuqing("--config", str(path), "check-config")
    offline = yuqing("--config", str(path), "check-config", "--no-connect")
    assert checked.returncode == 2
    assert "alerts.targets.dead: 无法连接 cannot connect to 127.0.0.1:9" in checked.stderr
    assert f"alerts.targets.nofile: {tmp_path / 'plain'} 不是目录 is not a directory" in checked.stderr
    assert "access_token" not in checked.stderr
    assert offline.returncode == 0, offline.stderr


def test_a_target_disabled_in_the_database_is_reported(tmp_path: Path) -> None:
    from monitor.alerts.target_state import disable
    from monitor.config import load_config
    from monitor.storage.db import Database

    path = config(tmp_path, [{"name": "c", "kind": "console"}])
    fresh = yuqing("--config", str(path), "check-config", "--no-connect")
    assert fresh.returncode == 0 and not (tmp_path / "yuqing.db").exists(), "check-config creates nothing"
    app = load_config(path)
    db = Database(app.database_url)
    db.upgrade()
    assert disable(db, app.alerts.targets[0], "HTTP 403 from https://hooks.example/***", None)
    result = yuqing("--config", str(path), "check-config", "--no-connect")
    assert result.returncode == 0
    assert "alerts.targets.c: 已停用 disabled after rejecting credentials (HTTP 403" in result.stderr
    assert "yuqing alerts enable c" in result.stderr
