"""The route tree: first match, continue, inheritance, wildcards; old configurations load or say
how to migrate."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from monitor.config import load_config
from monitor.errors import ConfigError
from monitor.stories.oncall_config import OnCallConfig
from monitor.stories.routes import RouteConfig, RouteTree, Subject
from monitor.stories.settings import build_settings
from monitor.targets import TargetConfig
from monitor.tickets.incident_settings import IncidentsConfig

TREE = RouteConfig.model_validate(
    {
        "receivers": ["default"],
        "group_wait": "30s",
        "routes": [
            {"name": "ops", "match": {"kind": ["operator"]}, "receivers": ["ops"], "group_wait": 0},
            {
                "name": "safety",
                "match": {"rules": ["safety.*"]},
                "receivers": ["safety"],
                "continue": True,
                "routes": [{"name": "night", "match": {"tags": ["night"]}, "group_interval": "1m"}],
            },
            {"name": "l1", "match": {"priority": ["L1"]}, "receivers": ["pager"], "group_wait": "0s"},
            {
                "name": "weibo-complaints",
                "match": {"source": ["weibo"], "type": ["complaint"]},
                "repeat_interval": "2h",
            },
        ],
    }
)


@pytest.mark.parametrize(
    ("subject", "paths", "receivers", "wait"),
    [
        (Subject("operator", "L2"), ["root/ops"], ("ops",), 0.0),
        (
            Subject("ticket", "L1", rules=frozenset({"safety.fire"})),
            ["root/safety", "root/l1"],
            ("safety", "pager"),
            0.0,
        ),
        (
            Subject("ticket", "L2", rules=frozenset({"safety.fire"}), tags=frozenset({"night"})),
            ["root/safety/night"],
            ("safety",),
            30.0,
        ),
        (
            Subject("ticket", "L2", sources=frozenset({"weibo"}), types=frozenset({"complaint"})),
            ["root/weibo-complaints"],
            ("default",),
            30.0,
        ),
        (Subject("ticket", "L2", sources=frozenset({"weibo"})), ["root"], ("default",), 30.0),
        (Subject("ticket", "L3", rules=frozenset({"unsafe.x"})), ["root"], ("default",), 30.0),
    ],
    ids=[
        "kind",
        "continue-union",
        "nested-inherits",
        "all-conditions",
        "partial-no-match",
        "wildcard-no-match",
    ],
)
def test_route_matching(subject: Subject, paths: list[str], receivers: tuple[str, ...], wait: float) -> None:
    routing = RouteTree(TREE).match(subject)
    assert [r.path for r in routing.routes] == paths
    assert routing.receivers == receivers and routing.group_wait == wait


def test_inherited_group_settings() -> None:
    routing = RouteTree(TREE).match(
        Subject("ticket", "L2", rules=frozenset({"safety.a"}), tags=frozenset({"night"}))
    )
    assert (routing.group_interval, routing.repeat_interval) == (60.0, 4 * 3600.0)


def test_unknown_receivers_and_teams_are_configuration_errors() -> None:
    tree = RouteConfig.model_validate({"receivers": ["nope"], "routes": [{"oncall": "ghost"}]})
    with pytest.raises(ConfigError) as caught:
        build_settings(tree, [TargetConfig(name="pager", kind="console")], IncidentsConfig(), None)
    text = str(caught.value)
    assert "alerts.route.receivers[0]: unknown alert target 'nope'" in text
    assert "alerts.route.routes[0].oncall: unknown on-call team 'ghost'" in text


def test_oncall_routes_and_alerts_route_together_ask_to_migrate() -> None:
    oncall = OnCallConfig.model_validate(
        {
            "people": {"a": {"name": "A", "targets": ["pager"]}},
            "teams": {
                "pr": {
                    "rotations": [{"name": "d", "start": "2026-11-02", "shift_hours": 9, "members": ["a"]}]
                }
            },
            "routes": [{"team": "pr"}],
        }
    )
    with pytest.raises(ConfigError, match=r"on-call routes moved to alerts\.route"):
        build_settings(RouteConfig(), [TargetConfig(name="pager", kind="console")], IncidentsConfig(), oncall)
    legacy = build_settings(None, [TargetConfig(name="pager", kind="console")], IncidentsConfig(), oncall)
    assert legacy.routes.match(Subject("ticket", "L1")).oncall == "pr"
    assert legacy.routes.match(Subject("operator", "L2")).receivers == ("pager",)


def test_removed_housekeeping_key_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "y.yaml"
    path.write_text(yaml.safe_dump({"scheduler": {"housekeeping_interval_seconds": 60}}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"housekeeping_interval_seconds was never used and is removed"):
        load_config(path)
