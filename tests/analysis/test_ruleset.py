"""Rule-file validation: every error at once, with file:line and key path; lint warnings; reload."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.analysis.engine import load_analyzer, rules_fingerprint
from monitor.analysis.normalize import Normalizer
from monitor.analysis.ruleset import compile_rule_set
from monitor.errors import ConfigError
from tests.analysis.conftest import message

GOOD = "rules:\n  - id: a\n    keywords: {any: [投诉]}\n    priority: L2\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_analyzer([tmp_path])
    return [str(i) for i in info.value.issues]


BAD_FILES = [
    (
        "unknown-key",
        "rules:\n  - id: a\n    keywords: {any: [x]}\n    priorty: L1\n",
        "bad.yaml:4 rules[0].priorty: 未知的键 unknown key",
    ),
    (
        "unknown-group",
        "rules:\n  - id: a\n    keywords:\n      anny: [x]\n",
        "bad.yaml:4 rules[0].keywords.anny: 未知的键 unknown key",
    ),
    (
        "bad-priority",
        "rules:\n  - id: a\n    keywords: {any: [x]}\n    priority: P1\n",
        "bad.yaml:4 rules[0].priority:",
    ),
    ("missing-id", "rules:\n  - keywords: {any: [x]}\n", "bad.yaml:2 rules[0].id: 缺少必填项"),
    (
        "re2-rejects-backreference",
        "rules:\n  - id: a\n    regex: ['(a)\\1']\n",
        "bad.yaml:3 rules[0].regex[0]: RE2",
    ),
    (
        "re2-rejects-lookahead",
        "rules:\n  - id: a\n    regex: ['foo(?=bar)']\n",
        "bad.yaml:3 rules[0].regex[0]: RE2",
    ),
    ("yaml-syntax", "rules:\n  - id: a\n    keywords: {any: [x]\n", "bad.yaml:4: YAML 语法错误"),
    (
        "duplicate-yaml-key",
        "rules:\n  - id: a\n    id: b\n    keywords: {any: [x]}\n",
        "bad.yaml:3 rules[0].id: 重复的键",
    ),
    ("no-condition", "rules:\n  - id: a\n    priority: L1\n", "bad.yaml:2 rules[0]: 规则没有任何条件"),
    (
        "bad-near",
        "rules:\n  - id: a\n    keywords: {any: ['律师 NEAR/x 起诉']}\n",
        "bad.yaml:3 rules[0].keywords.any[0]: NEAR",
    ),
    (
        "empty-after-normalization",
        'rules:\n  - id: a\n    keywords: {any: ["\\u200b"]}\n',
        "bad.yaml:3 rules[0].keywords.any[0]: 关键词归一化后为空",
    ),
    (
        "bad-threshold",
        "rules:\n  - id: a\n    thresholds: {sentiment_max: -3}\n",
        "bad.yaml:3 rules[0].thresholds.sentiment_max:",
    ),
    (
        "missing-dictionary",
        "dictionaries: [nope.txt]\nrules: []\n",
        "bad.yaml:1 dictionaries[0]: 词典文件不存在",
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_errors_say_file_line_and_key_path(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path, "bad.yaml", text)
    errors = errors_of(tmp_path)
    assert any(expected in e for e in errors), errors


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "rules:\n  - id: a\n    keywords: {any: [x]}\n    colour: red\n")
    write(tmp_path, "b.yaml", "rules:\n  - id: b\n    regex: ['(?<=x)y']\n  - id: c\n    priority: L9\n")
    errors = errors_of(tmp_path)
    assert len(errors) == 3
    assert [e.split(" ")[0].rsplit("/", 1)[-1] for e in errors] == ["a.yaml:4", "b.yaml:3", "b.yaml:5"]


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD)
    errors = errors_of(tmp_path)
    assert len(errors) == 1 and "b.yaml:2 rules[0].id: 规则 id 重复" in errors[0] and "a.yaml:2" in errors[0]


def test_numbers_are_keywords(tmp_path: Path) -> None:
    write(tmp_path, "r.yaml", "rules:\n  - id: n\n    keywords: {any: [12315]}\n")
    analyzer = load_analyzer([tmp_path])
    assert [f.rule_id for f in analyzer(message("打12315")).findings] == ["n"]


def test_minimal_format_still_loads(tmp_path: Path) -> None:
    write(
        tmp_path,
        "r.yaml",
        """
rules:
  - id: escalation.urgent
    description: 紧急
    enabled: true
    keywords: {any: [紧急, 緊急]}
    priority: L1
    alert: true
""",
    )
    analysis = load_analyzer([tmp_path])(message("緊急"))
    assert analysis.priority == "L1" and analysis.alert


WARNINGS = [
    (
        "shadowed",
        "rules:\n  - id: a\n    keywords: {any: [投诉, 举报]}\n  - id: b\n    keywords: {any: [投诉]}\n",
        "b: 被规则 a 覆盖",
    ),
    (
        "duplicate-keyword",
        "rules:\n  - id: a\n    keywords: {any: [投诉, 投訴]}\n",
        "rules[0].keywords.any[1]: 关键词重复",
    ),
    (
        "none-contradicts-any",
        "rules:\n  - id: a\n    keywords: {any: [投诉], none: [投诉]}\n",
        "rules[0].keywords.none: '投诉' 同时在 none",
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in WARNINGS], ids=[c[0] for c in WARNINGS])
def test_lint_warnings_do_not_block_loading(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path, "w.yaml", text)
    rule_set, issues = compile_rule_set([tmp_path], Normalizer())
    assert rule_set is not None
    assert any(i.severity == "warning" and expected in str(i) for i in issues), [str(i) for i in issues]


def test_fingerprint_changes_with_files(tmp_path: Path) -> None:
    path = write(tmp_path, "r.yaml", GOOD)
    first = rules_fingerprint([tmp_path])
    assert rules_fingerprint([tmp_path]) == first
    path.write_text(GOOD + "\n", encoding="utf-8")
    os.utime(path, ns=(1, 1))
    assert rules_fingerprint([tmp_path]) != first
    write(tmp_path, "new.yaml", "rules: []\n")
    assert len({first, rules_fingerprint([tmp_path])}) == 2


def test_hot_reload_keeps_old_set_until_the_new_one_is_valid(tmp_path: Path) -> None:
    """What the daemon does: reload on change, keep the last good analyzer when the new set is broken."""
    write(tmp_path, "r.yaml", GOOD)
    active = load_analyzer([tmp_path])
    write(tmp_path, "broken.yaml", "rules:\n  - id: x\n    keywords: {any: [故障]}\n    priority: L0\n")
    with pytest.raises(ConfigError):
        active = load_analyzer([tmp_path])
    assert active(message("我要投诉")).priority == "L2"  # old rules keep working
    assert active(message("系统故障")).findings == ()
    write(tmp_path, "broken.yaml", "rules:\n  - id: x\n    keywords: {any: [故障]}\n    priority: L1\n")
    active = load_analyzer([tmp_path])
    assert active(message("系统故障")).priority == "L1"
