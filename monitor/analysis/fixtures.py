"""Rule fixtures: sample messages with the outcome they must produce (``yuqing rules test``).

A fixture file is YAML::

    cases:
      - text: 我要投訴你們
        expect:
          rules: [escalation.complaint]     # must fire (others may fire too)
          not_rules: [escalation.urgent]    # must not fire
          priority: L2                      # exact; null means "no priority"
          type: complaint
          category: service
          review: false
          alert: true
          sentiment: negative

Optional per case: ``title``, ``source``, ``channel``, ``followers``, ``engagement`` (likes+reposts+
replies as one number). Every mismatch becomes a line of a readable diff.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitor import errortext
from monitor.errors import ConfigError, ConfigIssue
from monitor.findings import Analysis, Analyzer
from monitor.message import Author, Engagement, Message
from monitor.yamlsource import load_yaml


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class Expect(_Model):
    rules: list[str] = Field(default_factory=list)
    not_rules: list[str] = Field(default_factory=list)
    priority: Literal["L1", "L2", "L3"] | None = None
    type: str | None = None
    category: str | None = None
    review: bool | None = None
    alert: bool | None = None
    sentiment: Literal["negative", "neutral", "positive"] | None = None


class Case(_Model):
    text: str
    title: str = ""
    source: str = "fixture"
    channel: str = ""
    followers: int | None = None
    engagement: int = 0
    expect: Expect


class FixtureFile(_Model):
    cases: list[Case] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CaseResult:
    file: str
    line: int | None
    text: str
    diffs: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.diffs

    def report(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        lines = [f"✗ {where}  {self.text!r}"]
        lines.extend(f"    {d}" for d in self.diffs)
        return "\n".join(lines)


def fixture_files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file()))
        else:
            files.append(path)
    return files


def fixtures_covering(rule_file: Path, rule_ids: Collection[str]) -> list[Path]:
    """Fixture files that test a rule file: in ``fixtures/`` next to it, the file of the same name
    (``rules/escalation.yaml`` → ``rules/fixtures/escalation.yaml``) or any file with a case naming
    one of its rules in ``expect.rules`` / ``expect.not_rules``. Files without cases do not count;
    unreadable fixture files are left to ``rules test`` to report."""
    ids = set(rule_ids)
    found: list[Path] = []
    for path in (
        fixture_files([rule_file.parent / "fixtures"]) if (rule_file.parent / "fixtures").is_dir() else []
    ):
        try:
            cases = load_fixtures(path)
        except ConfigError:
            continue
        named = {r for case, _ in cases for r in (*case.expect.rules, *case.expect.not_rules)}
        if cases and (path.stem == rule_file.stem or named & ids):
            found.append(path)
    return found


def load_fixtures(path: Path) -> list[tuple[Case, int | None]]:
    """Cases of one file with their line numbers; ConfigError lists every schema problem."""
    doc = load_yaml(path, expand_env=False)  # rule files take no ${ENV} references
    if doc.issues:
        raise ConfigError(doc.issues)
    try:
        model = FixtureFile.model_validate(doc.data or {})
    except ValidationError as exc:
        raise ConfigError(
            [doc.issue(tuple(e["loc"]), str(errortext.pydantic_error(e))) for e in exc.errors()]
        ) from exc
    return [(case, doc.line_of(("cases", i))) for i, case in enumerate(model.cases)]


def to_message(case: Case, n: int) -> Message:
    return Message(
        source=case.source,
        external_id=f"fixture-{n}",
        thread_key=f"fixture-{n}",
        text=case.text,
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
        channel=case.channel,
        title=case.title,
        author=Author(followers=case.followers),
        engagement=Engagement(likes=case.engagement),
    )


def check(case: Case, analysis: Analysis) -> list[str]:
    """Differences between what a case expects and what the analyzer said ("- expected / + actual")."""
    e = case.expect
    fired = [f.rule_id for f in analysis.findings]
    diffs: list[str] = []
    missing = [r for r in e.rules if r not in fired]
    if missing:
        diffs.append(f"- 应触发 expected rules: {missing}")
        diffs.append(f"+ 实际触发 fired:        {fired}")
    unwanted = [r for r in e.not_rules if r in fired]
    if unwanted:
        diffs.append(f"- 不应触发 must not fire: {unwanted}")
    actual: dict[str, object] = {
        "priority": analysis.priority,
        "type": analysis.first("feedback_type"),
        "category": analysis.first("category"),
        "review": analysis.review,
        "alert": analysis.alert,
        "sentiment": analysis.sentiment.label if analysis.sentiment else None,
    }
    for key in ("priority", "type", "category", "review", "alert", "sentiment"):
        if key in e.model_fields_set and getattr(e, key) != actual[key]:
            diffs.append(f"- {key}: {getattr(e, key)!r}")
            diffs.append(f"+ {key}: {actual[key]!r}")
    return diffs


def run_fixtures(analyzer: Analyzer, paths: Sequence[Path]) -> list[CaseResult]:
    """Run every case of every fixture file under ``paths``."""
    results: list[CaseResult] = []
    n = 0
    issues: list[ConfigIssue] = []
    for path in fixture_files(paths):
        try:
            cases = load_fixtures(path)
        except ConfigError as exc:
            issues.extend(exc.issues)
            continue
        for case, line in cases:
            n += 1
            diffs = check(case, analyzer(to_message(case, n)))
            results.append(CaseResult(str(path), line, case.text, tuple(diffs)))
    if issues:
        raise ConfigError(issues)
    return results
