"""Load YAML while remembering the line of every key, so errors can say ``file:line key.path``.

PyYAML's composed node tree carries marks; we walk it once to map each key path to its line and to
catch duplicate keys (which ``safe_load`` would silently overwrite).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitor.errors import ConfigIssue

KeyPath = tuple[str | int, ...]


def format_path(path: Sequence[str | int]) -> str:
    """``('rules', 0, 'keywords', 'any')`` → ``rules[0].keywords.any``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass(slots=True)
class YamlDocument:
    """Parsed data plus the line of each key path (1-based)."""

    file: str
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """Line of the longest prefix of ``path`` that we know."""
        parts = tuple(path)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return self.lines.get((), None)

    def issue(self, path: Sequence[str | int], message: str) -> ConfigIssue:
        return ConfigIssue(self.file, self.line_of(path), format_path(path), message)


def _walk(node: yaml.Node, path: KeyPath, doc: YamlDocument) -> None:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                doc.issues.append(
                    ConfigIssue(
                        doc.file, key_node.start_mark.line + 1, format_path((*path, key)), "duplicate key"
                    )
                )
            seen.add(key)
            doc.lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), doc)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), doc)


def load_yaml(path: Path, *, display: str | None = None) -> YamlDocument:
    """Parse one YAML file; syntax errors become issues instead of exceptions."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return YamlDocument(name, None, issues=[ConfigIssue(name, None, "", f"cannot read: {exc}")])
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> YamlDocument:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        return YamlDocument(name, None, issues=[ConfigIssue(name, line, "", f"YAML syntax: {exc.problem}")])
    except yaml.YAMLError as exc:
        return YamlDocument(name, None, issues=[ConfigIssue(name, None, "", f"YAML: {exc}")])
    doc = YamlDocument(name, data)
    if node is not None:
        _walk(node, (), doc)
    return doc
