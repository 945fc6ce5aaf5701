"""``rules lint`` for people who type rules with a Chinese input method: exact line, Chinese first,
a proposed fix, nothing from RE2's C++ library on stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.analysis.imelint import split_keyword
from monitor.analysis.lint import lint_rules, render
from monitor.cli import main

ROOT = Path(__file__).resolve().parents[2]


def lint_out(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    (tmp_path / "r.yaml").write_text(text, encoding="utf-8")
    code = main(["rules", "lint", "--rules", str(tmp_path / "r.yaml"), *extra])
    return code, capsys.readouterr().out


def test_fullwidth_commas_in_a_flow_list_are_found_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "rules:\n  - id: a\n    keywords:\n      any: [拉肚子，腹泻，呕吐]\n    priority: L1\n"
    code, out = lint_out(tmp_path, text, capsys)
    assert code == 0  # a warning: the rule set still loads
    assert "r.yaml:4 rules[0].keywords.any[0]: 关键词 “拉肚子，腹泻，呕吐” 里有分隔符「，」" in out
    assert "[警告 warning]" in out
    assert "建议改为 fix →\n              any: [拉肚子, 腹泻, 呕吐]\n" in out
    assert "0 个错误 errors, 1 个警告 warnings" in out


def test_fullwidth_commas_are_errors_under_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "rules:\n  - id: a\n    keywords: {any: [拉肚子、腹泻]}\n"
    code, out = lint_out(tmp_path, text, capsys, "--strict")
    assert code == 1
    assert "r.yaml:3 rules[0].keywords.any[0]: 关键词 “拉肚子、腹泻”" in out and "[错误 error]" in out


SEPARATOR_CASES = [
    (
        "block-list-item",
        "rules:\n  - id: a\n    keywords:\n      any:\n        - 投诉箱；投诉电话\n",
        5,
        "        - 投诉箱\n        - 投诉电话",
    ),
    (
        "string-instead-of-list",
        "rules:\n  - id: a\n    keywords: {any: 食物中毒：送医}\n",
        3,
        "    keywords: {any: [食物中毒, 送医]}",
    ),
    (
        "none-group-ascii-semicolon",
        "rules:\n  - id: a\n    keywords: {any: [x], none: ['a;b']}\n",
        3,
        "    keywords: {any: [x], none: [a, b]}",
    ),
    (
        "nested-groups",
        "rules:\n  - id: a\n    keywords:\n      all_of: [[产品A，产品B], [拉肚子, 腹泻]]\n",
        4,
        "      all_of: [[产品A, 产品B], [拉肚子, 腹泻]]",
    ),
    (
        "keyword-spec-word",
        "rules:\n  - id: a\n    keywords:\n      any:\n        - {word: 退款，退货, match: substring}\n",
        5,
        None,  # no one-line fix: each word needs its own {word: …} entry
    ),
]


def proposed(message: str) -> str | None:
    """The corrected YAML lines a lint message proposes (printed indented under "fix →")."""
    if "建议改为 fix →" not in message:
        return None
    lines = message.split("建议改为 fix →", 1)[1].splitlines()[1:]
    assert all(line.startswith(" " * 8) for line in lines)
    return "\n".join(line[8:] for line in lines)


@pytest.mark.parametrize(
    ("text", "line", "fix"), [c[1:] for c in SEPARATOR_CASES], ids=[c[0] for c in SEPARATOR_CASES]
)
def test_separators_inside_keywords(tmp_path: Path, text: str, line: int, fix: str | None) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    slips = [i for i in lint_rules([path]).issues if "分隔符" in i.issue.message]
    assert [s.issue.line for s in slips] == [line]
    assert proposed(slips[0].issue.message) == fix


def test_a_comma_inside_a_number_is_not_a_separator() -> None:
    assert split_keyword("1,000元") == ["1,000元"]
    assert split_keyword("退款,退货") == ["退款", "退货"]


def test_fullwidth_colon_is_reported_on_its_own_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "rules:\n  - id: a\n    keywords:\n      any：[拉肚子, 腹泻]\n      none: [x]\n"
    code, out = lint_out(tmp_path, text, capsys)
    assert code == 1
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(f"{tmp_path / 'r.yaml'}:4 any: "))
    assert "键 any 后面是全角冒号" in lines[first]
    assert lines[first + 2].strip() == "any: [拉肚子, 腹泻]"
    # YAML's own error (noticed one line late) is reported on the line of its cause, too
    assert (
        "r.yaml:4: YAML 语法错误：这里不能出现 “键: 值”——第 4 行用了全角冒号“：”（YAML 在第 5 行才报错）"
        in out
    )
    assert "r.yaml:5" not in out


LINE_SLIPS = [
    (
        "colon-in-flow-mapping",
        "rules:\n  - id: a\n    keywords: {any：[x]}\n",
        3,
        "    keywords: {any: [x]}",
    ),
    (
        "fullwidth-brackets",
        "rules:\n  - id: a\n    keywords:\n      any: ［拉肚子，腹泻］\n",
        4,
        "      any: [拉肚子, 腹泻]",
    ),
    (
        "ideographic-space-indent",
        "rules:\n  - id: a\n    keywords: {any: [x]}\n\u3000\u3000priority: L1\n",
        4,
        "    priority: L1",
    ),
    ("colon-after-id", "rules:\n  - id：a\n    keywords: {any: [x]}\n", 2, "  - id: a"),
]


@pytest.mark.parametrize(("text", "line", "fix"), [c[1:] for c in LINE_SLIPS], ids=[c[0] for c in LINE_SLIPS])
def test_ime_slips_that_break_the_structure(tmp_path: Path, text: str, line: int, fix: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    report = lint_rules([path])
    found = [i for i in report.errors if i.issue.line == line and "建议改为" in i.issue.message]
    assert found, [render(i) for i in report.issues]
    assert proposed(found[0].issue.message) == fix


def test_fullwidth_quotes_around_a_keyword(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("rules:\n  - id: a\n    keywords:\n      any:\n        - “退款”\n", encoding="utf-8")
    (warning,) = lint_rules([path]).warnings
    assert warning.issue.line == 5 and "全角引号" in warning.issue.message
    assert proposed(warning.issue.message) == "        - 退款"


def test_descriptions_with_fullwidth_punctuation_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "rules:\n  - id: a\n    description: 【重要】注意：退款，退货\n    keywords: {any: [退款]}\n",
        encoding="utf-8",
    )
    assert lint_rules([path]).issues == ()


ERROR_TEXT = [
    (
        "bad-regex",
        "rules:\n  - id: a\n    regex: ['(?<=a)b']\n",
        "r.yaml:3 rules[0].regex[0]: RE2 正则表达式错误：RE2 不支持向后查找",
    ),
    ("backreference", "rules:\n  - id: a\n    regex: ['(a)\\1']\n", "无效的转义"),
    (
        "unknown-key",
        "rules:\n  - id: a\n    keywords: {any: [x]}\n    prio: L1\n",
        "r.yaml:4 rules[0].prio: 未知的键",
    ),
    (
        "literal",
        "rules:\n  - id: a\n    keywords: {any: [x]}\n    priority: P1\n",
        "取值只能是 'L1', 'L2' or 'L3'",
    ),
    (
        "not-a-list",
        "rules:\n  - id: a\n    keywords: {any: [x]}\n    tags: 安全\n",
        "rules[0].tags: 应为列表",
    ),
    ("bad-bool", "rules:\n  - id: a\n    keywords: {any: [x]}\n    alert: 是\n", "应为 true 或 false"),
    ("yaml-tab", "rules:\n\t- id: a\n", "r.yaml:2: YAML 语法错误：不能用 Tab 缩进"),
    ("yaml-unclosed", "rules:\n  - id: a\n    keywords: {any: [x\n", "YAML 语法错误"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in ERROR_TEXT], ids=[c[0] for c in ERROR_TEXT])
def test_errors_come_in_chinese_first_with_a_hint(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    errors = [str(i.issue) for i in lint_rules([path]).errors]
    (error,) = [e for e in errors if expected in e]
    assert "提示 hint:" in error
    message = error.split(": ", 1)[1]
    assert "\u4e00" <= message[0] <= "\u9fff" or message.startswith(("RE2 ", "YAML ")), message


def test_strict_fails_a_rule_file_without_fixtures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules"
    (rules / "fixtures").mkdir(parents=True)
    (rules / "a.yaml").write_text("rules:\n  - id: a\n    keywords: {any: [投诉]}\n", encoding="utf-8")
    (rules / "b.yaml").write_text("rules:\n  - id: b\n    keywords: {any: [故障]}\n", encoding="utf-8")
    # b is tested from a fixture file of another name; a has none
    (rules / "fixtures" / "mixed.yaml").write_text(
        "cases:\n  - text: 系统故障\n    expect: {rules: [b]}\n", encoding="utf-8"
    )
    assert main(["rules", "lint", "--rules", str(rules)]) == 0
    assert main(["rules", "lint", "--strict", "--rules", str(rules)]) == 1
    out = capsys.readouterr().out
    assert f"{rules / 'a.yaml'}: 没有测试样例" in out and "b.yaml: 没有测试样例" not in out
    (rules / "fixtures" / "a.yaml").write_text("cases:\n  - text: 我要投诉\n    expect: {rules: [a]}\n")
    assert main(["rules", "lint", "--strict", "--rules", str(rules)]) == 0


def test_an_empty_fixture_file_does_not_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "a.yaml").write_text("rules:\n  - id: a\n    keywords: {any: [投诉]}\n", encoding="utf-8")
    (tmp_path / "fixtures" / "a.yaml").write_text("cases: []\n", encoding="utf-8")
    assert main(["rules", "lint", "--strict", "--rules", str(tmp_path)]) == 1
    assert "没有测试样例" in capsys.readouterr().out


BAD_REGEX = "rules:\n  - id: a\n    regex: ['(?<=a)b', 'x(?=y)', '(a)\\1']\n"


@pytest.mark.parametrize("command", ["lint", "test", "analyze"])
def test_re2_writes_nothing_to_stderr(tmp_path: Path, command: str) -> None:
    (tmp_path / "r.yaml").write_text(BAD_REGEX, encoding="utf-8")
    argv = ["analyze"] if command == "analyze" else ["rules", command]
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli", *argv, "--rules", str(tmp_path)],
        input="x\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode in (1, 2)
    for noise in ("re2.cc", "absl", "E0000", "WARNING: All log messages"):
        assert noise not in done.stderr
    shown = done.stdout if command == "lint" else done.stderr
    assert shown.count("RE2 正则表达式错误") == 3


def test_the_stderr_capture_sees_re2_logging_when_it_is_on(tmp_path: Path) -> None:
    """The check above can fail: RE2 with default options does write to fd 2."""
    done = subprocess.run(
        [sys.executable, "-c", "import re2\ntry: re2.compile('(?<=a)b')\nexcept re2.error: pass\n"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "re2.cc" in done.stderr


def test_shipped_rules_have_no_ime_slips() -> None:
    report = lint_rules([ROOT / "rules"], strict=True)
    assert report.issues == ()
