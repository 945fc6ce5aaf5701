"""Read, validate and compile a whole rule set; collect every error with file, line and key path.

A rule set is valid only as a whole: ``compile_rule_set`` returns either compiled rules or the full
list of problems, so the daemon can keep running the last good set (hot reload never activates
half a set).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import re2
from pydantic import ValidationError

from monitor import errortext
from monitor.analysis.context import Policy
from monitor.analysis.normalize import Normalizer
from monitor.analysis.regex import compile_pattern
from monitor.analysis.rules import KeywordTerm, NearTerm, Outputs, Rule, Term, parse_near
from monitor.analysis.schema import (
    KeywordEntry,
    KeywordSpec,
    MatchMode,
    RuleFileModel,
    RuleModel,
    SentimentSettings,
)
from monitor.errors import ConfigIssue
from monitor.yamlsource import KeyPath, YamlDocument, load_yaml

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class LintIssue:
    """A rule-set problem; errors block loading, warnings do not."""

    severity: Severity
    issue: ConfigIssue

    def __str__(self) -> str:
        label = "错误 error" if self.severity == "error" else "警告 warning"
        return f"{self.issue}  [{label}]"


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A compiled, valid rule set."""

    rules: tuple[Rule, ...]
    files: tuple[Path, ...]
    dictionaries: tuple[Path, ...] = ()
    sentiment: SentimentSettings | None = None
    sentiment_base: Path | None = None  # directory the sentiment paths are relative to
    warnings: tuple[LintIssue, ...] = ()
    compounds: frozenset[str] = frozenset()  # file-level ``compounds:``, for every rule

    @property
    def words(self) -> frozenset[str]:
        """Every keyword of every rule (these also go into the segmentation dictionary)."""
        return frozenset(w for r in self.rules for t in r.terms for w in t.words)

    @property
    def index_words(self) -> frozenset[str]:
        """What the Aho-Corasick pass looks for: keywords plus every compound."""
        return self.words | self.compounds | frozenset(w for r in self.rules for w in r.policy.compounds)


def rule_files(rule_paths: Sequence[Path]) -> list[Path]:
    """Rule files under the given paths: a directory contributes its ``*.yaml``/``*.yml`` (not recursive)."""
    files: list[Path] = []
    for path in rule_paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file()))
        else:
            files.append(path)
    return files


@dataclass
class _Collector:
    normalizer: Normalizer
    issues: list[LintIssue] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    dictionaries: list[Path] = field(default_factory=list)
    seen_ids: dict[str, str] = field(default_factory=dict)
    compounds: set[str] = field(default_factory=set)
    sentiment: SentimentSettings | None = None
    sentiment_base: Path | None = None
    sentiment_file: str | None = None

    def error(self, doc: YamlDocument, path: KeyPath, message: str) -> None:
        self.issues.append(LintIssue("error", doc.issue(path, message)))

    def warn(self, doc: YamlDocument, path: KeyPath, message: str) -> None:
        self.issues.append(LintIssue("warning", doc.issue(path, message)))


def compile_rule_set(
    rule_paths: Sequence[Path], normalizer: Normalizer
) -> tuple[RuleSet | None, list[LintIssue]]:
    """Compile every rule file; returns ``(None, issues)`` if any error was found."""
    c = _Collector(normalizer)
    files = rule_files(rule_paths)
    for path in files:
        _compile_file(path, c)
    _warn_shadowed(c)
    errors = [i for i in c.issues if i.severity == "error"]
    if errors:
        return None, c.issues
    warnings = tuple(i for i in c.issues if i.severity == "warning")
    rule_set = RuleSet(
        tuple(c.rules),
        tuple(files),
        tuple(c.dictionaries),
        c.sentiment,
        c.sentiment_base,
        warnings,
        frozenset(c.compounds),
    )
    return rule_set, c.issues


def _compile_file(path: Path, c: _Collector) -> None:
    doc = load_yaml(path, expand_env=False)  # rule files take no ${ENV} references
    c.issues.extend(LintIssue("error", i) for i in doc.issues)
    if doc.issues:
        return
    data: Any = doc.data if doc.data is not None else {}
    try:
        model = RuleFileModel.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not _is_union_tag(p))
            c.error(doc, loc, _message(err))
        return
    for i, raw in enumerate(model.rules):
        try:
            rule = RuleModel.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                loc = tuple(p for p in err["loc"] if not _is_union_tag(p))
                c.error(doc, ("rules", i, *loc), _message(err))
            continue
        _compile_rule(rule, ("rules", i), doc, c)
    c.compounds.update(_compounds(model.compounds, ("compounds",), doc, c))
    for i, name in enumerate(model.dictionaries):
        dict_path = (path.parent / name).resolve()
        if dict_path.is_file():
            c.dictionaries.append(dict_path)
        else:
            c.error(doc, ("dictionaries", i), f"词典文件不存在 dictionary not found: {dict_path}")
    if model.sentiment is not None:
        _take_sentiment(model.sentiment, path, doc, c)


def _is_union_tag(part: str | int) -> bool:
    # pydantic puts the union member name into ``loc`` ("str", "KeywordSpec"); it is noise here.
    return part in {"str", "KeywordSpec"}


def _message(err: Any) -> str:
    return str(errortext.pydantic_error(err))


def _take_sentiment(settings: SentimentSettings, path: Path, doc: YamlDocument, c: _Collector) -> None:
    if c.sentiment is not None:
        c.error(doc, ("sentiment",), f"情感设置只能出现一次 sentiment is already set in {c.sentiment_file}")
        return
    for key in ("model", "lexicon"):
        value = getattr(settings, key)
        if value is not None and not (path.parent / value).is_file():
            c.error(doc, ("sentiment", key), f"文件不存在 file not found: {path.parent / value}")
    if settings.negative_below > settings.positive_above:
        c.error(doc, ("sentiment",), "negative_below 不能大于 positive_above")
    c.sentiment, c.sentiment_base, c.sentiment_file = settings, path.parent, doc.file


def _compile_rule(rule: RuleModel, at: KeyPath, doc: YamlDocument, c: _Collector) -> None:
    if rule.id in c.seen_ids:
        c.error(doc, (*at, "id"), f"规则 id 重复 duplicate rule id (first in {c.seen_ids[rule.id]})")
    else:
        c.seen_ids[rule.id] = f"{doc.file}:{doc.line_of((*at, 'id'))}"
    groups: dict[str, tuple[Term, ...]] = {}
    for name in ("any", "all", "none"):
        entries: list[KeywordEntry] = getattr(rule.keywords, name)
        groups[name] = _compile_terms(entries, rule.match, (*at, "keywords", name), doc, c)
    all_of = tuple(
        _compile_terms(group, rule.match, (*at, "keywords", "all_of", i), doc, c)
        for i, group in enumerate(rule.keywords.all_of)
    )
    for i, group in enumerate(rule.keywords.all_of):
        if not group:
            c.error(doc, (*at, "keywords", "all_of", i), "all_of 的每一组至少需要一个关键词 empty group")
    patterns: list[re2._Regexp] = []
    for i, pattern in enumerate(rule.regex):
        try:
            patterns.append(compile_pattern(pattern))
        except re2.error as exc:
            c.error(doc, (*at, "regex", i), str(errortext.re2_error(exc)))
    th = rule.thresholds
    has_condition = bool(groups["any"] or groups["all"] or all_of or rule.regex) or any(
        v is not None for v in (th.sentiment_max, th.followers_min, th.engagement_min)
    )
    if not has_condition:
        c.error(doc, at, "规则没有任何条件 rule has no condition (keywords.any/all, regex or thresholds)")
    positive = {w for g in ("any", "all") for t in groups[g] for w in t.words}
    positive.update(w for g in all_of for t in g for w in t.words)
    for t in groups["none"]:
        if isinstance(t, KeywordTerm) and t.word in positive:
            c.warn(
                doc,
                (*at, "keywords", "none"),
                f"'{t.word}' 同时在 none 和 any/all 中 also required elsewhere",
            )
    if not rule.enabled:
        return
    c.rules.append(
        Rule(
            id=rule.id,
            outputs=Outputs(
                rule.priority,
                rule.alert,
                rule.type,
                rule.category,
                rule.department,
                tuple(rule.tags),
                rule.review,
            ),
            any=groups["any"],
            all=groups["all"],
            none=groups["none"],
            all_of=all_of,
            regex=tuple(patterns),
            sources=frozenset(rule.sources),
            channels=frozenset(rule.channels),
            sentiment_max=th.sentiment_max,
            followers_min=th.followers_min,
            engagement_min=th.engagement_min,
            policy=Policy(
                negated=rule.negated == "include",
                unless_question="question" in rule.unless_intent,
                compounds=frozenset(_compounds(rule.compounds, (*at, "compounds"), doc, c)),
            ),
            description=rule.description,
            file=doc.file,
            line=doc.line_of(at),
        )
    )


def _compile_terms(
    entries: Sequence[KeywordEntry], default: MatchMode, at: KeyPath, doc: YamlDocument, c: _Collector
) -> tuple[Term, ...]:
    terms: list[Term] = []
    seen: set[Term] = set()
    for i, entry in enumerate(entries):
        text, mode = (entry.word, entry.match) if isinstance(entry, KeywordSpec) else (entry, default)
        negated = None
        if isinstance(entry, KeywordSpec) and entry.negated is not None:
            negated = entry.negated == "include"
        term = _compile_term(text, mode, negated, (*at, i), doc, c)
        if term is None:
            continue
        if term in seen:
            c.warn(doc, (*at, i), f"关键词重复（归一化后相同）duplicate keyword after normalization: {text}")
            continue
        seen.add(term)
        terms.append(term)
    return tuple(terms)


def _compounds(entries: Sequence[str], at: KeyPath, doc: YamlDocument, c: _Collector) -> list[str]:
    """Normalized compound words; a compound must be longer than a keyword to guard anything."""
    out: list[str] = []
    for i, entry in enumerate(entries):
        word = c.normalizer.word(entry)
        if not word:
            c.error(doc, (*at, i), f"复合词归一化后为空 compound is empty after normalization: {entry!r}")
        else:
            out.append(word)
    return out


def _compile_term(
    text: str, mode: MatchMode, negated: bool | None, at: KeyPath, doc: YamlDocument, c: _Collector
) -> Term | None:
    near = parse_near(text)
    if near is None:
        if "NEAR/" in text:
            c.error(doc, at, "NEAR 写法应为 'A NEAR/5 B' expected 'A NEAR/<n> B'")
            return None
        word = c.normalizer.word(text)
        if not word:
            c.error(doc, at, f"关键词归一化后为空 keyword is empty after normalization: {text!r}")
            return None
        return KeywordTerm(word, mode, negated)
    left_raw, right_raw, distance = near
    left = tuple(dict.fromkeys(w for w in (c.normalizer.word(x) for x in left_raw) if w))
    right = tuple(dict.fromkeys(w for w in (c.normalizer.word(x) for x in right_raw) if w))
    if not left or not right:
        c.error(doc, at, f"NEAR 两侧都需要关键词 both sides of NEAR need keywords: {text!r}")
        return None
    return NearTerm(left, right, distance, mode, negated)


def _warn_shadowed(c: _Collector) -> None:
    """Warn when a plain keyword rule can never add anything because another one always fires with it."""
    plain = [
        r
        for r in c.rules
        if r.any
        and not (r.all or r.none or r.all_of or r.regex or r.sources or r.channels)
        and r.sentiment_max is None
        and r.followers_min is None
        and r.engagement_min is None
        and all(isinstance(t, KeywordTerm) for t in r.any)
    ]
    for a in plain:
        a_words = {(t.word, t.mode, t.negated) for t in a.any if isinstance(t, KeywordTerm)}
        for b in plain:
            if a is b:
                continue
            b_words = {(t.word, t.mode, t.negated) for t in b.any if isinstance(t, KeywordTerm)}
            same = a.outputs == b.outputs and a.policy == b.policy
            if a_words <= b_words and same and (a_words < b_words or a.id > b.id):
                c.issues.append(
                    LintIssue(
                        "warning",
                        ConfigIssue(
                            a.file,
                            a.line,
                            a.id,
                            f"被规则 {b.id} 覆盖：它触发时 {b.id} 也触发且结果相同 shadowed by {b.id}",
                        ),
                    )
                )
                break
