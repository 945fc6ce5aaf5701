"""YAML loading that remembers where every key is, and expands ``${ENV}`` references.

Configuration errors are only useful with a line number; PyYAML's composed node tree has them,
so we keep it next to the plain data and look locations up by key path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitor.errors import ConfigError, ConfigIssue

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
Loc = tuple[str | int, ...]


def format_path(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class YamlDocument:
    """Plain data of a YAML file plus a way to find the line of any key path."""

    file: str
    data: Any
    root: yaml.Node | None
    issues: list[ConfigIssue] = field(default_factory=list)

    def locate(self, loc: Sequence[str | int]) -> tuple[int | None, Loc]:
        """Line of the deepest node that exists along ``loc``, and ``loc`` itself.

        A missing key (a required field) is reported at the line of its parent.
        """
        node = self.root
        line = node.start_mark.line + 1 if node is not None else None
        for part in loc:
            child, key_line = _child(node, part)
            if child is None:
                break
            node, line = child, key_line
        return line, tuple(loc)

    def issue(self, loc: Sequence[str | int], message: str) -> ConfigIssue:
        line, path = self.locate(loc)
        return ConfigIssue(self.file, line, format_path(path), message)


def _child(node: yaml.Node | None, part: str | int) -> tuple[yaml.Node | None, int | None]:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key_node, value_node in node.value:
            if key_node.value == part:
                return value_node, key_node.start_mark.line + 1
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        child = node.value[part]
        return child, child.start_mark.line + 1
    return None, None


def _expand(value: Any, loc: Loc, doc: YamlDocument, env: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, (*loc, str(k)), doc, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, (*loc, i), doc, env) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            doc.issues.append(doc.issue(loc, f"environment variable {name} is not set"))
            return ""

        return _ENV.sub(replace, value)
    return value


def _duplicate_keys(node: yaml.Node | None, loc: Loc, doc: YamlDocument) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                doc.issues.append(
                    ConfigIssue(
                        doc.file, key_node.start_mark.line + 1, format_path((*loc, key)), "duplicate key"
                    )
                )
            seen.add(key)
            _duplicate_keys(value_node, (*loc, key), doc)
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            _duplicate_keys(child, (*loc, index), doc)


def load_yaml(path: Path, *, env: dict[str, str] | None = None) -> YamlDocument:
    """Read a YAML file; syntax errors raise ConfigError with the line, other issues are collected."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigIssue(name, None, "", f"cannot read: {exc}")]) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError([ConfigIssue(name, line, "", f"YAML syntax error: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigIssue(name, None, "", f"YAML error: {exc}")]) from None
    doc = YamlDocument(name, data, root)
    _duplicate_keys(root, (), doc)
    doc.data = _expand(data, (), doc, dict(os.environ) if env is None else env)
    return doc
