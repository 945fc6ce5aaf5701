"""``yuqing alerts route-test``: the dry run shows route, receivers, who is on call, the timeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.helpers.builders import write_config, write_rules
from tests.helpers.daemon import yuqing
from tests.helpers.oncall import PRIMARY_THEN_SECONDARY, day_and_backup

ONCALL = {
    "people": {
        "zhang": {"name": "张伟", "targets": ["wecom-pr"]},
        "wang": {"name": "王芳", "targets": ["mail-wang"]},
        "amy": {"name": "Amy", "targets": ["slack-global"]},
    },
    "teams": {
        "pr": {
            "timezone": "Asia/Shanghai",
            "rotations": day_and_backup(),
            "escalation": PRIMARY_THEN_SECONDARY,
            "repeat_minutes": 30,
        },
        "global": {
            "timezone": "UTC",
            "rotations": [
                {
                    "name": "emea",
                    "role": "primary",
                    "start": "2026-11-02",
                    "handoff": "08:00",
                    "shift_hours": 9,
                    "members": ["amy"],
                }
            ],
        },
    },
}


def setup(tmp_path: Path) -> Path:
    (tmp_path / "oncall.yaml").write_text(yaml.safe_dump(ONCALL, allow_unicode=True), encoding="utf-8")
    return write_config(
        tmp_path / "yuqing.yaml",
        {
            "state_dir": str(tmp_path / "state"),
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "alerts": {
                "oncall": "oncall.yaml",
                "targets": [
                    {"name": "console", "kind": "console", "min_priority": "L2"},
                    {"name": "wecom-pr", "kind": "console"},
                    {"name": "mail-wang", "kind": "console"},
                    {"name": "slack-global", "kind": "console"},
                ],
                "route": {
                    "receivers": ["console"],
                    "group_wait": "30s",
                    "routes": [
                        {"name": "overseas", "match": {"source": ["reddit"]}, "oncall": "global"},
                        {
                            "name": "urgent",
                            "match": {"priority": ["L1"]},
                            "oncall": "pr",
                            "group_wait": 0,
                            "continue": True,
                        },
                        {
                            "name": "complaints",
                            "match": {"rules": ["t.*"]},
                            "receivers": ["console", "slack-global"],
                        },
                    ],
                },
            },
        },
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["紧急：充电宝起火", "--at", "2026-12-01T11:00:00+08:00"],
            [
                "分析 Analysis: kind ticket · priority L1 · rules t.urgent",
                "  root/urgent  receivers: console  oncall: pr  group_wait 0s",
                "  root/complaints  receivers: console, slack-global  oncall: -  group_wait 30s",
                "接收目标 Receivers: console, slack-global",
                "值班 On call now (pr @ 2026-12-01 11:00 Asia/Shanghai):",
                "  primary    张伟 -> wecom-pr",
                "  secondary  王芳 -> mail-wang",
                "  +0s      首次通知 first notification · primary 张伟 -> console, slack-global, wecom-pr",
                "  +15m     未确认则升级 escalate if unacknowledged · secondary 王芳 -> mail-wang",
                "  +45m     此后每 30m 重复最后一步 then repeat the last step 王芳 -> mail-wang",
            ],
        ),
        (
            ["我要投诉", "--source", "reddit", "--at", "2026-12-01T10:00:00+00:00"],
            [
                "  root/overseas  receivers: console  oncall: global  group_wait 30s",
                "  primary    Amy -> slack-global",
            ],
        ),
        (
            ["你好", "--priority", "L3", "--tags", "vip"],
            [
                "分析 Analysis: kind ticket · priority L3 · rules - · type - · category - · tags vip",
                "  root  receivers: console  oncall: -  group_wait 30s · group_interval 5m · repeat_interval 4h",
                "接收目标 Receivers: - (min_priority 过滤 filtered out: console)",
            ],
        ),
    ],
    ids=["l1-two-routes-oncall-timeline", "source-route-other-team", "default-route-filtered"],
)
def test_route_test_prints_routes_receivers_oncall_and_timeline(
    tmp_path: Path, args: list[str], expected: list[str]
) -> None:
    path = setup(tmp_path)
    done = yuqing("--config", str(path), "alerts", "route-test", *args)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for line in expected:  # each expected line starts one printed line
        assert any(printed.startswith(line) for printed in lines), f"{line!r} not in:\n{done.stdout}"


def test_route_test_json_and_a_stored_message(tmp_path: Path) -> None:
    path = setup(tmp_path)
    done = yuqing("--config", str(path), "alerts", "route-test", "--json", "紧急", "--kind", "incident")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["routes"] == ["root/urgent", "root/complaints"] and record["oncall"] == "pr"
    assert [s["after_seconds"] for s in record["timeline"]] == [0.0, 900.0, 2700.0]
    assert yuqing("--config", str(path), "db", "upgrade").returncode == 0
    missing = yuqing("--config", str(path), "alerts", "route-test", "--message-id", "99")
    assert missing.returncode == 3 and "no stored message 99" in missing.stderr
