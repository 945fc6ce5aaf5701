"""``rules lint``: everything that can be wrong with a rule set, each with file, line and a hint.

:func:`lint_rules` combines the rule set's own validation (schema, RE2, duplicates, shadowing),
input-method slips (:mod:`monitor.analysis.imelint`), keywords segmentation makes unmatchable and,
under ``--strict``, rule files without fixtures.

Whole-token matching needs the keyword to start and end on token boundaries. Every keyword is in
the user dictionary, but a longer dictionary word can still swallow it in running text. We place
each keyword in a few neutral contexts and warn when it would not match in any of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.analysis.engine import Engine, load_engine
from monitor.analysis.fixtures import fixtures_covering
from monitor.analysis.imelint import Slip, keyword_slips, line_slips
from monitor.analysis.normalize import Normalizer
from monitor.analysis.rules import KeywordTerm, NearTerm
from monitor.analysis.ruleset import LintIssue, RuleSet, compile_rule_set, rule_files
from monitor.analysis.schema import SentimentSettings
from monitor.analysis.segment import Segmenter
from monitor.errors import ConfigError, ConfigIssue

CONTEXTS = ("{}", "我说{}了", "，{}。", "这个{}")


def _matchable(word: str, segment: Segmenter) -> bool:
    for context in CONTEXTS:
        text = context.format(word)
        start = text.index(word)
        tokens = segment(text)
        boundaries = tokens.boundaries
        end = start + len(word)
        inner = any(k in boundaries for k in range(start + 1, end))
        if end in boundaries and (start in boundaries or not inner):
            return True
    return False


def lint_segmentation(engine: Engine) -> list[LintIssue]:
    """Warnings for token-mode keywords that never come out as whole tokens."""
    issues: list[LintIssue] = []
    checked: dict[str, bool] = {}
    for rule in engine.rules:
        for group in (rule.any, rule.all, rule.none):
            for term in group:
                if term.mode != "token":
                    continue
                words = (term.word,) if isinstance(term, KeywordTerm) else term.words
                assert isinstance(term, KeywordTerm | NearTerm)
                for word in words:
                    if word.isascii():
                        continue
                    ok = checked.setdefault(word, _matchable(word, engine.segmenter))
                    if not ok:
                        cut = "/".join(engine.segmenter(word).words)
                        issues.append(
                            LintIssue(
                                "warning",
                                ConfigIssue(
                                    rule.file,
                                    rule.line,
                                    rule.id,
                                    f"分词把关键词 '{word}' 切成 {cut}，整词匹配可能永远不触发；"
                                    "可改用 match: substring / segmentation splits this keyword",
                                ),
                            )
                        )
    return issues


@dataclass(frozen=True, slots=True)
class LintReport:
    """All issues of a rule set, sorted by file and line, and the number of enabled rules."""

    issues: tuple[LintIssue, ...]
    rules: int

    @property
    def errors(self) -> list[LintIssue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[LintIssue]:
        return [i for i in self.issues if i.severity == "warning"]


def lint_rules(
    paths: Sequence[Path], *, strict: bool = False, sentiment: SentimentSettings | None = None
) -> LintReport:
    """Lint every rule file under ``paths``. ``strict`` turns keyword separators into errors and
    requires fixtures for every rule file with enabled rules."""
    rule_set, issues = compile_rule_set(paths, Normalizer())
    issues = issues + ime_slips(paths, strict=strict)
    if rule_set is not None:
        try:
            issues += lint_segmentation(load_engine(paths, sentiment=sentiment))
        except ConfigError as exc:  # e.g. a sentiment file that loads but does not build
            issues += [LintIssue("error", i) for i in exc.issues]
        if strict:
            issues += missing_fixtures(rule_set)
    ordered = sorted(issues, key=lambda i: (i.issue.file, i.issue.line or 0, i.severity != "error"))
    return LintReport(tuple(ordered), len(rule_set.rules) if rule_set else 0)


def render(item: LintIssue) -> str:
    """One issue for the terminal: severity label on the first line, a proposed fix below it."""
    label = "错误 error" if item.severity == "error" else "警告 warning"
    head, _, rest = str(item.issue).partition("\n")
    return f"{head}  [{label}]" + (f"\n{rest}" if rest else "")


def ime_slips(paths: Sequence[Path], *, strict: bool = False) -> list[LintIssue]:
    """Input-method slips in every rule file under ``paths`` (cheap: no engine is built)."""
    return [item for path in rule_files(paths) for item in _slip_issues(path, strict=strict)]


def _slip_issues(path: Path, *, strict: bool) -> list[LintIssue]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []  # the rule set already reports unreadable files
    slips: list[Slip] = line_slips(text) + keyword_slips(text, strict=strict)
    return [LintIssue(s.severity, ConfigIssue(str(path), s.line, s.path, s.message)) for s in slips]


def missing_fixtures(rule_set: RuleSet) -> list[LintIssue]:
    """An error for every rule file whose enabled rules no fixture file tests."""
    ids: dict[str, list[str]] = {}
    for rule in rule_set.rules:
        ids.setdefault(rule.file, []).append(rule.id)
    issues: list[LintIssue] = []
    for file, rule_ids in ids.items():
        path = Path(file)
        if not fixtures_covering(path, rule_ids):
            expected = path.parent / "fixtures" / path.name
            issues.append(
                LintIssue(
                    "error",
                    ConfigIssue(
                        file,
                        None,
                        "",
                        f"没有测试样例：--strict 要求每个规则文件都有样例，例如 {expected} "
                        f"no fixtures for this rule file (--strict); add {expected}",
                    ),
                )
            )
    return issues
