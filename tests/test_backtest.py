"""``yuqing rules backtest`` compares candidate rules with what fired at ingestion."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from tests.helpers.builders import write_config, write_rules


def test_backtest_reports_rules_that_would_start_and_stop_firing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.jsonl").write_text(
        '{"id": "1", "text": "紧急情况"}\n{"id": "2", "text": "我要退款"}\n{"id": "3", "text": "我要投诉"}\n',
        encoding="utf-8",
    )
    config = write_config(
        tmp_path / "c.yaml",
        {
            "state_dir": str(tmp_path),
            "logging": {"level": "warning"},
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "sources": [
                {"name": "drop", "kind": "files", "files": {"path": str(inbox), "settle_seconds": 0}}
            ],
        },
    )
    assert main(["run", "--once", "--config", str(config)]) == 0
    candidate = tmp_path / "candidate"
    candidate.mkdir()
    (candidate / "r.yaml").write_text(
        "rules:\n"
        "  - id: t.urgent\n    keywords: {any: [紧急]}\n    priority: L1\n    alert: true\n"
        "  - id: c.refund\n    keywords: {any: [退款]}\n    priority: L2\n    alert: true\n",
        encoding="utf-8",
    )
    capsys.readouterr()
    assert (
        main(["rules", "backtest", "--since", "1d", "--rules", str(candidate), "--config", str(config)]) == 0
    )
    out = capsys.readouterr().out
    assert "3 条消息" in out
    assert "c.refund: +1/-0 fired, +1/-0 alerts\n    + Q000002  “我要退款”" in out
    assert "t.complaint: +0/-1 fired, +0/-1 alerts" in out
    assert "t.urgent" not in out
