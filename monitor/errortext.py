"""Error messages people can act on: Chinese first, then English, with a hint.

One translation layer for everything a rule or configuration author sees when a file is wrong:
YAML syntax errors (PyYAML ``problem`` strings), schema errors (pydantic error types), RE2 regex
errors, and the few messages of our own (duplicate key, unreadable file). ``rules lint``,
``rules test``, the daemon's rule reload log and ``check-config`` all print issues built here, so a
message reads the same wherever it appears. The English original is kept after the Chinese text so
that a message can still be searched for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Explained:
    """A problem in Chinese and English, with an optional hint (what to change)."""

    zh: str
    en: str
    hint_zh: str = ""
    hint_en: str = ""

    def __str__(self) -> str:
        text = f"{self.zh} {self.en}"
        if self.hint_zh or self.hint_en:
            text += f"；提示 hint: {self.hint_zh}" + (f" / {self.hint_en}" if self.hint_en else "")
        return text


_COLON_HINT = (
    "检查这一行或上一行：键后面要用半角冒号加空格（any: 而不是 any：），缩进要对齐",
    "use an ASCII colon followed by a space after a key (any: not any：) and check indentation",
)
_LIST_HINT = (
    "列表写成 [甲, 乙]（半角方括号、半角逗号）或每行一个 “- 甲”",
    "write lists as [a, b] with ASCII brackets and commas, or one '- a' per line",
)

# (substring of PyYAML's problem text, Chinese message, hint zh, hint en); first match wins.
_YAML_PROBLEMS: tuple[tuple[str, str, str, str], ...] = (
    ("mapping values are not allowed", "这里不能出现 “键: 值”", *_COLON_HINT),
    ("could not find expected ':'", "找不到键后面的冒号", *_COLON_HINT),
    ("'\\t' that cannot start any token", "不能用 Tab 缩进", "用空格缩进", "indent with spaces, not tabs"),
    (
        "cannot start any token",
        "这里出现了不能开头的字符",
        "以 @ ` % 等符号开头的值要加引号",
        "quote values that start with @ ` % and similar",
    ),
    ("expected ',' or ']'", "方括号列表没有正确结束（缺半角逗号或 ]）", *_LIST_HINT),
    (
        "expected ',' or '}'",
        "花括号映射没有正确结束（缺半角逗号或 }）",
        "写成 {键: 值, 键: 值}（半角符号）",
        "write {key: value, key: value} with ASCII punctuation",
    ),
    (
        "expected <block end>",
        "缩进不一致",
        "同一级的键或列表项要对齐（同样多的空格）",
        "keys and list items of one level must start in the same column",
    ),
    (
        "did not find expected key",
        "缩进不对，或列表项缺少 “- ”",
        "同一级的键要对齐；列表项以 “- ” 开头",
        "align keys of one level; list items start with '- '",
    ),
    (
        "did not find expected '-' indicator",
        "列表项的缩进不一致",
        "每个 “- ” 要在同一列",
        "every '- ' of a list must be in the same column",
    ),
    (
        "found unexpected end of stream",
        "文件在引号或括号闭合之前就结束了",
        "检查引号和括号是否成对",
        "check that every quote and bracket is closed",
    ),
    (
        "found unknown escape character",
        "双引号里的反斜杠转义无效",
        "正则表达式请用单引号：'\\d+'",
        "put regular expressions in single quotes: '\\d+'",
    ),
    (
        "found duplicate anchor",
        "锚点 & 重名",
        "每个 &名字 只能定义一次",
        "define each &anchor once",
    ),
    (
        "found undefined alias",
        "引用了未定义的锚点 *",
        "先用 &名字 定义再用 *名字",
        "define &name before *name",
    ),
)


_IME_KEY = re.compile(r"^[ \u3000]*(?:-\s+)?[A-Za-z_][A-Za-z0-9_.\-]*[ \t]*：|[{,]\s*[A-Za-z_]\w*[ \t]*：")


def ime_cause(source: str, line: int) -> tuple[int, str, str] | None:
    """The line (1-based) at or up to two lines above ``line`` with a full-width colon after a key
    or a U+3000 indentation - the usual input-method cause of a YAML error reported late."""
    lines = source.splitlines()
    for number in range(line, max(line - 3, 0), -1):
        text = lines[number - 1] if 0 < number <= len(lines) else ""
        if _IME_KEY.search(text):
            return number, "全角冒号“：”", "full-width colon"
        if "\u3000" in text[: len(text) - len(text.lstrip(" \u3000\t"))]:
            return number, "全角空格缩进", "ideographic-space indent"
    return None


def yaml_problem(problem: str | None) -> Explained:
    """A PyYAML syntax problem (``MarkedYAMLError.problem``)."""
    text = problem or "syntax error"
    for needle, message, hint_zh, hint_en in _YAML_PROBLEMS:
        if needle in text:
            return Explained(f"YAML 语法错误：{message}", f"YAML syntax error: {text}", hint_zh, hint_en)
    return Explained("YAML 语法错误", f"YAML syntax error: {text}")


def yaml_error(problem: str | None, source: str, line: int | None) -> tuple[int | None, Explained]:
    """The line to report and the explanation of a YAML syntax error at ``line``.

    PyYAML reports a full-width colon after a key (or an ideographic-space indent) on a later line;
    when such a slip is up to two lines above, that line is reported and YAML's line is named.
    """
    explained = yaml_problem(problem)
    cause = ime_cause(source, line) if line else None
    if cause is None or line is None:
        return line, explained
    number, what_zh, what_en = cause
    return number, Explained(
        f"{explained.zh}——第 {number} 行用了{what_zh}（YAML 在第 {line} 行才报错）",
        f"{explained.en} (caused by the {what_en} on line {number}; YAML noticed on line {line})",
        explained.hint_zh,
        explained.hint_en,
    )


def duplicate_key() -> Explained:
    return Explained(
        "重复的键：后一个会覆盖前一个",
        "duplicate key",
        "删除或合并其中一个",
        "remove or merge one of them",
    )


def cannot_read(reason: object) -> Explained:
    return Explained(
        "无法读取文件",
        f"cannot read: {reason}",
        "检查路径、权限和 UTF-8 编码",
        "check path, permissions, UTF-8",
    )


def env_missing(name: str) -> Explained:
    return Explained(
        f"环境变量 {name} 未设置",
        f"environment variable {name} is not set",
        f"设置 {name}，或写成 ${{{name}:-默认值}}",
        f"set {name} or write ${{{name}:-default}}",
    )


def _ctx(err: Mapping[str, Any], key: str) -> str:
    ctx = err.get("ctx") or {}
    return str(ctx.get(key, ""))


_MAPPING = (
    "应为 “键: 值” 映射",
    "expected a mapping",
    "下一级的键要另起一行并缩进",
    "put nested keys on indented lines",
)
_NUMBER = ("应为数字", "expected a number", "例如 -0.5", "for example -0.5")
_INTEGER = ("应为整数", "expected an integer", "例如 1000", "for example 1000")
_BOOL = (
    "应为 true 或 false",
    "expected true or false",
    "写 true 或 false（不写 是/否）",
    "write true or false",
)
# pydantic error type -> (Chinese, English, hint zh, hint en)
_PYDANTIC_SIMPLE: dict[str, tuple[str, str, str, str]] = {
    "extra_forbidden": (
        "未知的键",
        "unknown key",
        "检查拼写和缩进；可用的键见 docs/rules.zh.md",
        "check spelling and indentation",
    ),
    "missing": ("缺少必填项", "required key missing", "加上这个键", "add this key"),
    "string_type": ("应为文本", "expected text", '用引号括起来，例如 "315"', "quote the value"),
    "list_type": ("应为列表", "expected a list", *_LIST_HINT),
    "dict_type": _MAPPING,
    "model_type": _MAPPING,
    "model_attributes_type": _MAPPING,
    "bool_type": _BOOL,
    "bool_parsing": _BOOL,
    "int_type": _INTEGER,
    "int_parsing": _INTEGER,
    "int_from_float": _INTEGER,
    "float_type": _NUMBER,
    "float_parsing": _NUMBER,
    "string_too_short": ("不能为空", "must not be empty", "填写内容或删除这一项", "fill it in or remove it"),
    "too_short": ("不能为空", "must not be empty", "至少写一项", "give at least one item"),
    "string_pattern_mismatch": (
        "格式不对",
        "does not match the required pattern",
        "id 只能用字母、数字和 _ . -，例如 escalation.safety",
        "ids use letters, digits, _ . - only",
    ),
}


def pydantic_error(err: Mapping[str, Any]) -> Explained:
    """One pydantic error (an item of ``ValidationError.errors()``)."""
    kind = str(err.get("type", ""))
    msg = str(err.get("msg", ""))
    if kind in _PYDANTIC_SIMPLE:
        return Explained(*_PYDANTIC_SIMPLE[kind])
    if kind in {"literal_error", "enum"}:
        expected = _ctx(err, "expected")
        return Explained(f"取值只能是 {expected}", msg, "注意大小写和拼写", "values are case-sensitive")
    bounds = {
        "greater_than_equal": ("应 ≥", "ge"),
        "less_than_equal": ("应 ≤", "le"),
        "greater_than": ("应 >", "gt"),
        "less_than": ("应 <", "lt"),
    }
    if kind in bounds:
        zh, key = bounds[kind]
        return Explained(f"{zh} {_ctx(err, key)}", msg)
    if kind in {"string_too_long", "too_long"}:
        return Explained(f"太长（最多 {_ctx(err, 'max_length')}）", msg)
    return Explained("取值无效", msg)


# (substring of RE2's error text, Chinese message, hint zh, hint en)
_RE2_PROBLEMS: tuple[tuple[str, str, str, str], ...] = (
    (
        "invalid perl operator: (?<",
        "RE2 不支持向后查找 (?<= (?<!",
        "去掉查找，或改用关键词的 none: 排除",
        "RE2 has no lookbehind; use keywords.none to exclude instead",
    ),
    (
        "invalid perl operator: (?=",
        "RE2 不支持向前查找 (?= (?!",
        "去掉查找，或改用关键词的 none: 排除",
        "RE2 has no lookahead; use keywords.none to exclude instead",
    ),
    (
        "invalid perl operator: (?!",
        "RE2 不支持向前查找 (?= (?!",
        "去掉查找，或改用关键词的 none: 排除",
        "RE2 has no lookahead; use keywords.none to exclude instead",
    ),
    (
        "invalid perl operator",
        "RE2 不支持这个 (? 写法",
        "只能用 (?:…) (?P<名>…) (?i) 等",
        "RE2 supports (?:…) (?P<name>…) (?i)",
    ),
    (
        "invalid escape sequence: \\",
        "无效的转义（RE2 不支持反向引用 \\1 和 \\Z 等）",
        "删除反向引用；行尾用 $",
        "RE2 has no backreferences; use $ for end of text",
    ),
    ("missing ]", "缺少右方括号 ]", "字符类写成 [0-9]", "close the character class: [0-9]"),
    ("missing )", "缺少右括号 )", "检查括号是否成对", "check that parentheses pair up"),
    ("unexpected )", "多了一个右括号 )", "检查括号是否成对", "check that parentheses pair up"),
    ("trailing \\", "末尾多了一个反斜杠 \\", "删除它，或写成 \\\\", "remove it or write \\\\"),
    (
        "missing argument to repetition operator",
        "* + ? 前面缺少内容",
        "要匹配字面的 * 请写 \\*",
        "escape a literal * as \\*",
    ),
    ("bad repetition operator", "重复符号用错了（如 ** 或 ++）", "只保留一个", "keep only one"),
    (
        "invalid repetition size",
        "重复次数无效（{m,n} 中 m > n 或超过 1000）",
        "例如 {2,5}",
        "for example {2,5}",
    ),
    (
        "invalid character class range",
        "字符范围无效（如 [z-a] 或未知的 \\p{…}）",
        "范围要从小到大，例如 [a-z]",
        "ranges go low to high",
    ),
    ("invalid character class", "字符类无效", "检查 [ ] 里的内容", "check what is inside [ ]"),
    ("invalid named capture group", "命名分组写法无效", "写成 (?P<名字>…)", "write (?P<name>…)"),
    ("pattern too large", "正则表达式太大", "拆成几条更简单的规则", "split it into simpler patterns"),
)


def re2_error(exc: BaseException) -> Explained:
    """An ``re2.error`` (its message is bytes in google-re2)."""
    raw = exc.args[0] if exc.args else str(exc)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    for needle, zh, hint_zh, hint_en in _RE2_PROBLEMS:
        if needle in text:
            return Explained(f"RE2 正则表达式错误：{zh}", f"rejected by RE2: {text}", hint_zh, hint_en)
    return Explained("RE2 正则表达式错误（不支持或语法错误）", f"rejected by RE2: {text}")


def rules_kept(count: int) -> Explained:
    """The daemon's summary when a rule reload fails."""
    return Explained(
        f"规则文件有 {count} 个错误，继续使用旧规则",
        f"rule files have {count} error(s); the previous rules stay active",
        "运行 yuqing rules lint 查看并修正",
        "run yuqing rules lint to see and fix them",
    )
