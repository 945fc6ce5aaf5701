"""Load YAML while remembering the line of every key, so errors can say ``file:line key.path``.

PyYAML's composed node tree carries marks; we walk it once to map each key path to its line and to
catch duplicate keys (which ``safe_load`` would silently overwrite). Configuration files may use
``${ENV}`` / ``${ENV:-default}`` references (expanded here); rule files do not (``expand_env=False``).
Problems never raise: they are collected in :attr:`YamlDocument.issues`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitor import errortext
from monitor.errors import ConfigIssue

KeyPath = tuple[str | int, ...]
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


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
        """Line of the longest prefix of ``path`` that is in the file (a missing key: its parent)."""
        parts = tuple(path)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return self.lines.get((), None)

    def issue(self, path: Sequence[str | int], message: str) -> ConfigIssue:
        return ConfigIssue(self.file, self.line_of(path), format_path(path), message)

    @property
    def unreadable(self) -> bool:
        """The file could not be read or parsed at all (the issues say why)."""
        return self.data is None and bool(self.issues)


def _walk(node: yaml.Node, path: KeyPath, doc: YamlDocument) -> None:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                line = key_node.start_mark.line + 1
                doc.issues.append(
                    ConfigIssue(doc.file, line, format_path((*path, key)), str(errortext.duplicate_key()))
                )
            seen.add(key)
            doc.lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), doc)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), doc)


def _expand(value: Any, path: KeyPath, doc: YamlDocument, env: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, (*path, str(k)), doc, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, (*path, i), doc, env) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            doc.issues.append(doc.issue(path, str(errortext.env_missing(name))))
            return ""

        return _ENV.sub(replace, value)
    return value


def load_yaml(
    path: Path,
    *,
    display: str | None = None,
    expand_env: bool = True,
    env: Mapping[str, str] | None = None,
) -> YamlDocument:
    """Parse one YAML file; unreadable files and syntax errors become issues, not exceptions."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return YamlDocument(name, None, issues=[ConfigIssue(name, None, "", str(errortext.cannot_read(exc)))])
    doc = parse_yaml(text, name)
    if expand_env and doc.data is not None:
        doc.data = _expand(doc.data, (), doc, os.environ if env is None else env)
    return doc


def parse_yaml(text: str, name: str) -> YamlDocument:
    """The data of ``text`` (``yaml.safe_load``) and the line of each key path, from one parse:
    the composed node is walked for the lines first, then constructed (the constructor flattens
    ``<<`` merge keys into the node in place)."""
    doc = YamlDocument(name, None)
    try:
        loader = yaml.SafeLoader(text)  # raises on characters YAML does not allow
        try:
            node = loader.get_single_node()
            if node is not None:
                _walk(node, (), doc)
                doc.data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        line, explained = errortext.yaml_error(exc.problem, text, line)
        return YamlDocument(name, None, issues=[ConfigIssue(name, line, "", str(explained))])
    except yaml.YAMLError as exc:
        return YamlDocument(
            name, None, issues=[ConfigIssue(name, None, "", str(errortext.yaml_problem(str(exc))))]
        )
    return doc
