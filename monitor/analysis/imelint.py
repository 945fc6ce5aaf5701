"""Slips a Chinese input method leaves in rule files, found with the exact line and a proposed fix.

With a Chinese IME on, ``any: [拉肚子，腹泻，呕吐]`` gets full-width commas: YAML then reads ONE
keyword ``拉肚子，腹泻，呕吐`` which never fires, and the file is otherwise valid. Other slips break
the structure and YAML reports them late or vaguely: ``any：`` (full-width colon; YAML complains
about the *next* line), ``［…］`` brackets, ideographic spaces (U+3000) in the indentation. Each
slip becomes a :class:`Slip` at the line where it is, with the corrected YAML line when one can be
given. Line checks work on the raw text (so they also explain files YAML cannot parse); keyword
checks walk the composed YAML nodes under ``keywords:`` / ``compounds:``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import yaml

from monitor.errortext import Explained

Severity = Literal["error", "warning"]
SEPARATORS = "，、；：,;"
_SPLIT = re.compile(r"\s*[，、；：;]\s*|(?<!\d)\s*,\s*|\s*,\s*(?!\d)")
_FW_COLON_KEY = re.compile(
    r"^(?P<head>[ \u3000]*(?:-\s+)?)(?P<key>[A-Za-z_][A-Za-z0-9_.\-]*)[ \t]*：[ \t\u3000]*"
)
_FW_COLON_FLOW = re.compile(r"(?P<head>[{,]\s*)(?P<key>[A-Za-z_][A-Za-z0-9_]*)[ \t]*：[ \t\u3000]*")
_LIST_KEYS = r"any|all|none|all_of|any_of|compounds|tags|sources|channels|regex|dictionaries"
_FW_BRACKETS = re.compile(rf"(?:\b(?:{_LIST_KEYS})\s*[:：]\s*[［【〔]|^\s*-\s*［)")
_QUOTES = {"“": "”", "‘": "’", "「": "」", "『": "』", "＂": "＂", "＇": "＇"}
KEYWORD_KEYS = frozenset({"keywords", "compounds"})


@dataclass(frozen=True, slots=True)
class Slip:
    """One IME slip: where, what, and (when known) the corrected YAML line."""

    kind: str
    severity: Severity
    line: int
    path: str
    explained: Explained
    fix: str | None = None

    @property
    def message(self) -> str:
        text = str(self.explained)
        if not self.fix:
            return text
        return (
            text + "\n      建议改为 fix →" + "".join(f"\n        {line}" for line in self.fix.splitlines())
        )


def _yaml_word(word: str) -> str:
    """A keyword as a flow-sequence item: plain when YAML reads it back as the same text."""
    try:
        plain_ok = yaml.safe_load(f"[{word}]") == [word]
    except yaml.YAMLError:
        plain_ok = False
    return word if plain_ok else json.dumps(word, ensure_ascii=False)


def split_keyword(text: str) -> list[str]:
    """``拉肚子，腹泻、呕吐`` → ``['拉肚子', '腹泻', '呕吐']`` (a comma between digits stays: 1,000)."""
    return [w.strip() for w in _SPLIT.split(text) if w.strip()]


_INDENT = Explained(
    "缩进里有全角空格（U+3000）",
    "ideographic space (U+3000) in the indentation",
    "缩进只能用半角空格；改后请检查是否与同级对齐",
    "indent with ASCII spaces only; then check the alignment",
)
_BRACKETS = Explained(
    "列表用了全角方括号 ［ ］ 或 【 】，YAML 会把整行当成一个文本",
    "full-width brackets: YAML reads the whole list as one string",
    "列表用半角 [ ] 和半角逗号",
    "use ASCII [ ] and commas",
)


def _colon(keys: str) -> Explained:
    return Explained(
        f"键 {keys} 后面是全角冒号“：”（YAML 往往在下一行才报错）",
        "full-width colon after a key (YAML reports it on the following line)",
        "键后面用半角冒号加空格",
        "use an ASCII colon and a space after a key",
    )


def line_slips(text: str) -> list[Slip]:
    """Slips visible on single lines: full-width colon after a key, U+3000 indent, ［］ brackets.

    Several slips on one line become one :class:`Slip` whose fix corrects all of them.
    """
    slips: list[Slip] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip(" \u3000\t")
        if not stripped or stripped.startswith("#"):
            continue
        found: list[tuple[str, Explained]] = []
        fixed = line
        indent = line[: len(line) - len(stripped)]
        if "\u3000" in indent:
            found.append(("ideographic-space", _INDENT))
            fixed = indent.replace("\u3000", "  ") + stripped
        keys = _colon_keys(fixed)
        if keys:
            found.append(("fullwidth-colon", _colon(", ".join(keys))))
            fixed = _FW_COLON_KEY.sub(lambda x: f"{x.group('head')}{x.group('key')}: ", fixed, count=1)
            fixed = _FW_COLON_FLOW.sub(lambda x: f"{x.group('head')}{x.group('key')}: ", fixed)
        if _FW_BRACKETS.search(line):
            found.append(("fullwidth-bracket", _BRACKETS))
            fixed = fixed.translate(_BRACKET_MAP)
            fixed = re.sub(r"\s*[，、；]\s*", ", ", fixed)
        if found:
            kind = "+".join(k for k, _ in found)
            explained = found[0][1] if len(found) == 1 else _merge([e for _, e in found])
            slips.append(Slip(kind, "error", number, ", ".join(keys), explained, fixed))
    return slips


_BRACKET_MAP = str.maketrans({"［": "[", "］": "]", "【": "[", "】": "]", "〔": "[", "〕": "]"})


def _merge(parts: list[Explained]) -> Explained:
    return Explained(
        "；".join(p.zh for p in parts),
        "; ".join(p.en for p in parts),
        "；".join(p.hint_zh for p in parts),
        "; ".join(p.hint_en for p in parts),
    )


def _colon_keys(line: str) -> list[str]:
    m = _FW_COLON_KEY.match(line)
    keys = [m.group("key")] if m else []
    keys += [f.group("key") for f in _FW_COLON_FLOW.finditer(line)]
    return list(dict.fromkeys(keys))


# --- keyword values ---------------------------------------------------------------------------


def keyword_slips(text: str, *, strict: bool = False) -> list[Slip]:
    """Separators and quotes inside keyword strings (needs YAML that parses; else nothing)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    if root is None:
        return []
    lines = text.splitlines()
    slips: list[Slip] = []
    for node, parent, path in _keyword_scalars(root, (), False):
        slip = _check_keyword(node, parent, path, lines, strict=strict)
        if slip is not None:
            slips.append(slip)
    return slips


def _format(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _keyword_scalars(
    node: yaml.Node, path: tuple[str | int, ...], inside: bool
) -> Iterator[tuple[yaml.ScalarNode, yaml.Node | None, tuple[str | int, ...]]]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = str(key.value)
            here = (*path, name)
            wanted = {"word", *_GROUP_KEYS} if inside else {"compounds"}
            if isinstance(value, yaml.ScalarNode) and name in wanted:
                yield value, node, here
            else:
                yield from _keyword_scalars(value, here, inside or name in KEYWORD_KEYS)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            if inside and isinstance(item, yaml.ScalarNode):
                yield item, node, (*path, i)
            else:
                yield from _keyword_scalars(item, (*path, i), inside)


_GROUP_KEYS = frozenset({"any", "all", "none", "all_of", "any_of"})


def _check_keyword(
    node: yaml.ScalarNode,
    parent: yaml.Node | None,
    path: tuple[str | int, ...],
    lines: list[str],
    *,
    strict: bool,
) -> Slip | None:
    value = str(node.value)
    words = split_keyword(value)
    line_no = node.start_mark.line
    source = lines[line_no] if line_no < len(lines) else ""
    if len(words) > 1 and node.start_mark.line == node.end_mark.line:
        marks = "".join(dict.fromkeys(ch for ch in value if ch in SEPARATORS))
        return Slip(
            "keyword-separator",
            "error" if strict else "warning",
            line_no + 1,
            _format(path),
            Explained(
                f"关键词 “{value}” 里有分隔符「{marks}」，它会被当成一个词，永远不会触发",
                f"keyword contains separator(s) {marks}: it is read as ONE keyword and never matches",
                "列表里用半角逗号分开（输入法切到英文标点）",
                "separate list items with ASCII commas",
            ),
            _split_fix(node, parent, words, source),
        )
    if "｜" in value and "NEAR" in value:
        return Slip(
            "fullwidth-pipe",
            "warning",
            line_no + 1,
            _format(path),
            Explained(
                "NEAR 表达式里用了全角竖线“｜”，不会被当作“或”",
                "full-width bar in a NEAR expression is not read as 'or'",
                "用半角 |",
                "use an ASCII |",
            ),
            source.replace("｜", "|"),
        )
    closing = _QUOTES.get(value[:1])
    if closing and value.endswith(closing) and len(value) > 1:
        start, end = node.start_mark.column, node.end_mark.column
        inner = value[1:-1]
        return Slip(
            "fullwidth-quotes",
            "warning",
            line_no + 1,
            _format(path),
            Explained(
                f"关键词 {value} 带着全角引号，引号会成为关键词的一部分",
                "keyword wrapped in full-width quotes: the quotes become part of it",
                '去掉全角引号，或改用半角引号 "…"',
                "drop them or use ASCII quotes",
            ),
            source[:start] + _yaml_word(inner) + source[end:],
        )
    return None


def _split_fix(node: yaml.ScalarNode, parent: yaml.Node | None, words: list[str], source: str) -> str | None:
    start, end = node.start_mark.column, node.end_mark.column
    items = ", ".join(_yaml_word(w) for w in words)
    if isinstance(parent, yaml.SequenceNode) and parent.flow_style:
        return source[:start] + items + source[end:]
    if isinstance(parent, yaml.SequenceNode):
        dash = source[: source.index("-") + 1] if "-" in source[:start] else " " * max(start - 2, 0) + "-"
        return "\n".join(f"{dash} {_yaml_word(w)}" for w in words)
    if isinstance(parent, yaml.MappingNode) and not _is_value_of(parent, node, "word"):
        return source[:start] + f"[{items}]" + source[end:]
    return None


def _is_value_of(mapping: yaml.MappingNode, node: yaml.Node, key: str) -> bool:
    return any(v is node and str(k.value) == key for k, v in mapping.value)
