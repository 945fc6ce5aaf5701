"""Rule commands use the configuration's rule paths (``--config``), not ./rules; ``--rules`` overrides."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from monitor.cli import main

RULE = "rules:\n  - id: cfg.refund\n    keywords: {any: [退款]}\n    priority: L2\n    alert: true\n"
OTHER = "rules:\n  - id: other.fault\n    keywords: {any: [故障]}\n    priority: L3\n"
FIXTURE = "cases:\n  - text: 我要退款\n    expect: {rules: [cfg.refund], priority: L2}\n"


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """conf/yuqing.yaml points at ../shared/rules (relative to the config); cwd has a decoy ./rules.

    The configuration also has a source whose secret comes from an unset environment variable:
    checking rules must not need it.
    """
    rules = tmp_path / "shared" / "rules"
    (rules / "fixtures").mkdir(parents=True)
    (rules / "refund.yaml").write_text(RULE, encoding="utf-8")
    (rules / "fixtures" / "refund.yaml").write_text(FIXTURE, encoding="utf-8")
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "yuqing.yaml").write_text(
        "rules:\n  paths: [../shared/rules]\n"
        "sources:\n  - name: drop\n    kind: files\n    files:\n      path: ${UNSET_INBOX_FOR_TEST}\n",
        encoding="utf-8",
    )
    work = tmp_path / "work"
    (work / "rules").mkdir(parents=True)
    (work / "rules" / "other.yaml").write_text(OTHER, encoding="utf-8")
    monkeypatch.chdir(work)
    monkeypatch.delenv("YUQING_CONFIG", raising=False)
    monkeypatch.delenv("UNSET_INBOX_FOR_TEST", raising=False)
    return conf / "yuqing.yaml"


def analyze(
    argv: list[str], text: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> list[str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(text + "\n"))
    assert main(["analyze", *argv]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return [m["rule"] for m in record["matches"]]


def test_analyze_uses_the_configured_rules(
    layout: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert analyze(["--config", str(layout)], "我要退款", monkeypatch, capsys) == ["cfg.refund"]
    assert analyze(["--config", str(layout)], "系统故障", monkeypatch, capsys) == []
    # without a configuration: ./rules
    assert analyze([], "系统故障", monkeypatch, capsys) == ["other.fault"]
    # --rules overrides the configuration
    assert analyze(["--config", str(layout), "--rules", "rules"], "系统故障", monkeypatch, capsys) == [
        "other.fault"
    ]


def test_config_from_the_environment_and_before_the_subcommand(
    layout: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("YUQING_CONFIG", str(layout))
    assert analyze([], "我要退款", monkeypatch, capsys) == ["cfg.refund"]
    monkeypatch.delenv("YUQING_CONFIG")
    monkeypatch.setattr("sys.stdin", io.StringIO("我要退款\n"))
    assert main(["--config", str(layout), "analyze"]) == 0
    assert "cfg.refund" in capsys.readouterr().out


def test_lint_uses_the_configured_rules(layout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "lint", "--strict", "--config", str(layout)]) == 0
    out = capsys.readouterr().out
    assert f"规则 rules: {layout.parent.parent / 'shared' / 'rules'}（配置 config: {layout}）" in out
    assert "1 条启用的规则 enabled rules" in out


def test_lint_reports_configured_rule_errors_with_their_file(
    layout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = layout.parent.parent / "shared" / "rules" / "refund.yaml"
    broken.write_text(RULE.replace("[退款]", "[退款，退货]"), encoding="utf-8")
    assert main(["rules", "lint", "--strict", "--config", str(layout)]) == 1
    assert f"{broken}:3 rules[0].keywords.any[0]: 关键词 “退款，退货”" in capsys.readouterr().out


def test_rules_test_runs_the_configured_fixtures(layout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "test", "--config", str(layout)]) == 0
    assert "1 passed, 0 failed" in capsys.readouterr().out
    # ./rules has no fixtures: nothing ran, which is a failure
    assert main(["rules", "test"]) == 1
    assert "没有找到测试样例 no fixtures found" in capsys.readouterr().out


def test_a_missing_configuration_is_an_error_in_chinese(
    layout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rules", "lint", "--config", str(layout.parent / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert "配置无效 configuration is invalid" in err and "nope.yaml: 无法读取文件" in err


def test_an_invalid_rules_section_is_reported_with_its_line(
    layout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout.write_text("instance: x\nrules:\n  paths: [a]\n  watch_seconds: soon\n", encoding="utf-8")
    assert main(["rules", "test", "--config", str(layout)]) == 2
    assert f"{layout}:4 rules.watch_seconds: 应为数字" in capsys.readouterr().err
