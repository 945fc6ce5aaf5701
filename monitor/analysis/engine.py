"""Entry point the daemon uses: load and validate a rule set into an Analyzer.

Minimal format (the full engine extends it)::

    rules:
      - id: escalation.urgent
        description: 紧急
        enabled: true
        keywords: {any: [紧急, 緊急]}
        priority: L1
        alert: true
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitor.analysis.findings import Analyzer
from monitor.analysis.keywords import KeywordAnalyzer, KeywordRule
from monitor.errors import ConfigError, ConfigIssue


class _Keywords(BaseModel):
    model_config = ConfigDict(extra="forbid")
    any: list[str] = Field(min_length=1)


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    description: str = ""
    enabled: bool = True
    keywords: _Keywords
    priority: Literal["L1", "L2", "L3"] | None = None
    alert: bool = False


class _RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[_Rule] = []


def rule_files(rule_paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in rule_paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"}))
        elif path.exists():
            files.append(path)
    return files


def rules_fingerprint(rule_paths: Sequence[Path]) -> str:
    """Cheap change detector: names, sizes and mtimes of every rule file."""
    digest = hashlib.sha256()
    for path in rule_files(rule_paths):
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def load_analyzer(rule_paths: Sequence[Path]) -> Analyzer:
    """Validate the whole rule set; raise ConfigError listing every problem."""
    issues: list[ConfigIssue] = []
    rules: list[KeywordRule] = []
    seen: set[str] = set()
    for path in rule_files(rule_paths):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            parsed = _RuleFile.model_validate(data)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            issues.append(ConfigIssue(str(path), None, "", f"cannot read rule file: {exc}"))
            continue
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"])
                issues.append(ConfigIssue(str(path), None, loc, err["msg"]))
            continue
        for rule in parsed.rules:
            if rule.id in seen:
                issues.append(ConfigIssue(str(path), None, f"rules.{rule.id}", "duplicate rule id"))
            seen.add(rule.id)
            if rule.enabled:
                rules.append(KeywordRule(rule.id, tuple(rule.keywords.any), rule.priority, rule.alert))
    if issues:
        raise ConfigError(issues)
    return KeywordAnalyzer(rules)
