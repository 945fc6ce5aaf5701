"""Backtest: the difference two rule sets make on the same messages."""

from __future__ import annotations

from collections.abc import Callable

from monitor.analysis.backtest import compare
from monitor.analysis.engine import Engine
from tests.analysis.conftest import message

OLD = "rules:\n  - id: c\n    keywords: {any: [投诉]}\n    alert: true\n"
NEW = (
    "rules:\n  - id: c\n    keywords: {any: [投诉], none: [投诉电话]}\n    alert: true\n"
    "  - id: f\n    keywords: {any: [故障]}\n"
)


def test_compare_counts_added_and_removed_per_rule(engine_from: Callable[[str], Engine]) -> None:
    old = engine_from(OLD)
    new = engine_from(NEW)
    msgs = [message("我要投诉"), message("投诉电话是多少"), message("系统故障")]
    report = compare(msgs, old, new)
    assert report.messages == 3
    assert (report.fired_removed["c"], report.alerts_removed["c"]) == (1, 1)
    assert (report.fired_added["f"], report.alerts_added["f"]) == (1, 0)
    assert any(line.startswith("  c: +0/-1 fired, +0/-1 alerts") for line in report.lines())


def test_compare_against_stored_alerts(engine_from: Callable[[str], Engine]) -> None:
    new = engine_from(NEW)
    report = compare([message("系统故障")], lambda m: ["c"], new)
    assert report.alerts_removed["c"] == 1 and report.fired_added["f"] == 1
