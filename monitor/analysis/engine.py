"""Entry point the daemon uses: load and validate a rule set into an Analyzer.

``load_analyzer(rule_paths)`` compiles every rule file under the paths as one set and raises
:class:`~monitor.errors.ConfigError` listing every error if anything is wrong - so a hot reload
either activates a complete new set or keeps the old one. ``rules_fingerprint`` is a cheap change
detector for the daemon's watcher.

Per message the :class:`Engine` runs: normalize (title and text) → segment with jieba → one
Aho-Corasick pass for all keywords → evaluate only the rules whose keywords occurred (plus rules
without keywords) → sentiment. See ``docs/rules.zh.md`` for the rule format.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.analysis.context import MessageContext
from monitor.analysis.keywords import KeywordIndex
from monitor.analysis.normalize import Normalizer, Text
from monitor.analysis.rules import Rule, candidates
from monitor.analysis.ruleset import LintIssue, RuleSet, compile_rule_set, rule_files
from monitor.analysis.schema import SentimentSettings
from monitor.analysis.segment import Segmenter, Tokens, segment_limited
from monitor.analysis.sentiment import SentimentStage, build_sentiment
from monitor.errors import ConfigError, ConfigIssue
from monitor.findings import Analysis, Finding
from monitor.message import Message

__all__ = ["Engine", "Trace", "load_analyzer", "load_engine", "rule_files", "rules_fingerprint"]


def rules_fingerprint(rule_paths: Sequence[Path]) -> str:
    """Cheap change detector: names, sizes and mtimes of every rule file and file they reference."""
    digest = hashlib.sha256()
    for path in rule_files(rule_paths):
        try:
            stat = path.stat()
        except OSError:
            digest.update(f"{path}\0missing\n".encode())
            continue
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


MAX_CHARS = 20_000
"""Characters of (normalized title + body) segmented and scored in full (``analysis.max_chars``);
beyond them only windows round keyword occurrences are segmented. Mail arrives without quoted
history, signature and HTML leftovers (``connectors/mail``), so this bounds the pathological ones."""


@dataclass(frozen=True, slots=True)
class Trace:
    """What the engine saw and decided for one message (the ``analyze`` command prints this)."""

    text: Text
    tokens: Tokens
    analysis: Analysis


class Engine:
    """A compiled rule set as an :class:`~monitor.findings.Analyzer`. Immutable; thread-safe."""

    def __init__(
        self,
        rule_set: RuleSet,
        *,
        normalizer: Normalizer | None = None,
        sentiment: SentimentStage | None = None,
        max_chars: int = MAX_CHARS,
    ) -> None:
        self.rule_set = rule_set
        self.max_chars = max_chars
        self.normalizer = normalizer or Normalizer()
        self.sentiment = sentiment or build_sentiment(rule_set.sentiment, rule_set.sentiment_base)
        # ASCII keywords are already whole tokens (jieba keeps letter/digit runs together); adding
        # them to the dictionary would make jieba split ``usb`` into ``u`` + ``sb``.
        words = (w for w in rule_set.words | self.sentiment.words if not w.isascii())
        self.segmenter = Segmenter(words, rule_set.dictionaries)
        self.rules: tuple[Rule, ...] = rule_set.rules
        self._index = KeywordIndex(rule_set.index_words)
        by_word: dict[str, list[int]] = {}
        always: list[int] = []
        for i, rule in enumerate(self.rules):
            triggers = rule.trigger_words
            if not triggers:
                always.append(i)
            for word in triggers:
                by_word.setdefault(word, []).append(i)
        self._by_word = {w: tuple(ix) for w, ix in by_word.items()}
        self._always = tuple(always)

    @property
    def warnings(self) -> tuple[LintIssue, ...]:
        return self.rule_set.warnings

    def context(self, message: Message) -> MessageContext:
        """Normalize, segment, find keywords and score sentiment: what every rule looks at."""
        title = message.title.strip()
        combined = f"{message.title}\n{message.text}" if title else message.text
        text = self.normalizer(combined)
        hits = self._index.find(text.value)
        if len(text.value) > self.max_chars:  # segment the head, and windows round later keywords
            spans = (span for found in hits.values() for span in found)
            tokens = segment_limited(self.segmenter, text.value, self.max_chars, spans)
            head = self.segmenter(text.value[: self.max_chars])
            sentiment = self.sentiment(text.value[: self.max_chars], head.words)
        else:
            tokens = self.segmenter(text.value)
            sentiment = self.sentiment(text.value, tokens.words)
        return MessageContext(
            message,
            text,
            tokens,
            hits,
            sentiment,
            title_length=len(message.title) if title else 0,
            compounds=self.rule_set.compounds,
        )

    def inspect(self, message: Message) -> Trace:
        """Analyse one message and keep the intermediate results."""
        ctx = self.context(message)
        findings: list[Finding] = []
        for i in candidates(self._by_word, self._always, ctx.hits):
            finding = self.rules[i].evaluate(ctx)
            if finding is not None:
                findings.append(finding)
        return Trace(ctx.text, ctx.tokens, Analysis(tuple(findings), ctx.sentiment))

    def __call__(self, message: Message) -> Analysis:
        return self.inspect(message).analysis


def load_engine(
    rule_paths: Sequence[Path], *, sentiment: SentimentSettings | None = None, max_chars: int = MAX_CHARS
) -> Engine:
    """Compile and validate the whole rule set; raise ConfigError listing every error.

    ``sentiment`` (from the daemon's configuration) overrides a ``sentiment:`` block in the rules;
    its relative paths are resolved against the current directory.
    """
    normalizer = Normalizer()
    rule_set, issues = compile_rule_set(rule_paths, normalizer)
    if rule_set is None:
        raise ConfigError([i.issue for i in issues if i.severity == "error"])
    stage = None
    if sentiment is not None:
        try:
            stage = build_sentiment(sentiment, Path.cwd())
        except (OSError, ValueError) as exc:
            raise ConfigError([ConfigIssue("sentiment", None, "sentiment", str(exc))]) from exc
    elif rule_set.sentiment is not None:
        try:
            stage = build_sentiment(rule_set.sentiment, rule_set.sentiment_base)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                [ConfigIssue(str(rule_set.sentiment_base), None, "sentiment", str(exc))]
            ) from exc
    return Engine(rule_set, normalizer=normalizer, sentiment=stage, max_chars=max_chars)


def load_analyzer(
    rule_paths: Sequence[Path], *, sentiment: SentimentSettings | None = None, max_chars: int = MAX_CHARS
) -> Engine:
    """The daemon's entry point: a validated :class:`Engine` (an Analyzer), or ConfigError."""
    return load_engine(rule_paths, sentiment=sentiment, max_chars=max_chars)
