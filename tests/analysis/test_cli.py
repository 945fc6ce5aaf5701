"""The rule-author commands, run in-process through argparse as ``yuqing`` would."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from monitor.analysis.cli import register
from tests.analysis.conftest import RULES


def run(argv: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> int:
    parser = argparse.ArgumentParser(prog="yuqing")
    register(parser.add_subparsers(dest="command", required=True))
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_analyze_json_and_plain_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin = '{"id": "a1", "text": "我要投訴 你們", "source": "weibo"}\n\n非常满意\n'
    assert run(["analyze", "--rules", str(RULES)], monkeypatch, stdin) == 0
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert set(first) == {
        "v",
        "id",
        "normalized",
        "tokens",
        "matches",
        "priority",
        "alert",
        "type",
        "category",
        "department",
        "review",
        "sentiment",
    }
    assert first["id"] == "a1" and first["normalized"] == "我要投诉你们" and "投诉" in first["tokens"]
    (complaint,) = [m for m in first["matches"] if m["rule"] == "escalation.complaint"]
    assert complaint["keywords"] == ["投诉"]
    assert complaint["spans"] == [{"keyword": "投诉", "field": "text", "start": 2, "end": 4}]
    assert (first["priority"], first["type"], first["review"]) == ("L2", "complaint", False)
    assert first["sentiment"]["label"] == "negative" and -1 <= first["sentiment"]["score"] <= 1
    assert second["id"] == "2" and second["priority"] is None and second["type"] == "praise"


def test_analyze_with_broken_rules_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "r.yaml").write_text("rules:\n  - id: a\n    prio: L1\n", encoding="utf-8")
    assert run(["analyze", "--rules", str(tmp_path)], monkeypatch, "x\n") == 2
    assert "r.yaml:3 rules[0].prio" in capsys.readouterr().err


def test_lint_lists_errors_and_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.yaml").write_text(
        "rules:\n  - id: a\n    keywords: {any: [投诉]}\n  - id: a\n    regex: ['(?=x)']\n", encoding="utf-8"
    )
    assert run(["rules", "lint", "--rules", str(tmp_path)], monkeypatch) == 1
    out = capsys.readouterr().out
    assert "a.yaml:4 rules[1].id: 规则 id 重复" in out and "a.yaml:5 rules[1].regex[0]: RE2" in out


def test_lint_warns_about_shadowed_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.yaml").write_text(
        "rules:\n  - id: a\n    keywords: {any: [投诉, 举报]}\n  - id: b\n    keywords: {any: [投诉]}\n",
        encoding="utf-8",
    )
    assert run(["rules", "lint", "--rules", str(tmp_path)], monkeypatch) == 0
    assert "被规则 a 覆盖" in capsys.readouterr().out
    assert run(["rules", "lint", "--strict", "--rules", str(tmp_path)], monkeypatch) == 1


def test_lint_passes_on_shipped_rules(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["rules", "lint", "--strict", "--rules", str(RULES)], monkeypatch) == 0
    assert "0 个错误 errors, 0 个警告 warnings" in capsys.readouterr().out


def test_rules_test_reports_a_readable_diff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fixture = tmp_path / "f.yaml"
    fixture.write_text(
        "cases:\n  - text: 我要投诉\n    expect: {rules: [escalation.complaint], priority: L2}\n"
        "  - text: 今天天气很好\n    expect: {priority: L1, type: complaint}\n",
        encoding="utf-8",
    )
    assert run(["rules", "test", "--rules", str(RULES), str(fixture)], monkeypatch) == 1
    out = capsys.readouterr().out
    assert "f.yaml:4  '今天天气很好'" in out
    assert "- priority: 'L1'\n    + priority: None" in out
    assert "1 passed, 1 failed" in out


def test_rules_test_passes_on_shipped_fixtures(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["rules", "test", "--rules", str(RULES)], monkeypatch) == 0
    assert ", 0 failed" in capsys.readouterr().out


def test_sentiment_train_writes_a_loadable_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "labelled.csv"
    rows = ["label,text"] + [f"1,很好{i}" for i in range(20)] + [f"0,很差{i}" for i in range(20)]
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "model.json"
    assert (
        run(["sentiment", "train", "--data", str(data), "--out", str(out), "--epochs", "2"], monkeypatch) == 0
    )
    assert out.is_file()
    printed = capsys.readouterr().out
    assert "balanced accuracy" in printed and "sentiment: {method: model" in printed


def test_sentiment_train_rejects_bad_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("foo,bar\n1,2\n", encoding="utf-8")
    assert run(["sentiment", "train", "--data", str(data)], monkeypatch) == 2
