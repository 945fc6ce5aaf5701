"""Compiled rules and their evaluation against one message.

A :class:`Rule` is the immutable, normalized form of a YAML rule: keywords are normalized with the
same chain as messages (so one entry matches both scripts), NEAR expressions are parsed, regexes
are compiled with RE2 (linear time: no pattern can hang the daemon). :meth:`Rule.judge` returns a
:class:`Verdict` - fired or not, and why - which both the engine (its finding) and
``yuqing rules explain`` (all of it) use, so the explanation is the evaluation itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Literal

import re2

from monitor.analysis.context import MessageContext, Policy, Rejection
from monitor.analysis.keywords import Span
from monitor.analysis.terms import NEAR_RE, KeywordTerm, NearTerm, Term, parse_near
from monitor.findings import Finding, Match, Priority

__all__ = [
    "NEAR_RE",
    "KeywordTerm",
    "MessageContext",
    "NearTerm",
    "Outputs",
    "Rule",
    "Term",
    "Verdict",
    "candidates",
    "parse_near",
]

Outcome = Literal[
    "fired", "source", "channel", "threshold", "no_match", "all_missing", "group_missing", "excluded", "regex"
]


@dataclass(frozen=True, slots=True)
class Outputs:
    """What a rule decides when it fires."""

    priority: Priority | None = None
    alert: bool = False
    feedback_type: str | None = None
    category: str | None = None
    department: str | None = None
    tags: tuple[str, ...] = ()
    review: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a rule fired on a message and why (``outcome``; ``detail`` names the term/group)."""

    rule_id: str
    outcome: Outcome
    detail: str = ""
    matches: tuple[Match, ...] = ()
    rejected: tuple[Rejection, ...] = ()
    finding: Finding | None = None

    @property
    def fired(self) -> bool:
        return self.finding is not None


def _ordered(matches: list[Match]) -> tuple[Match, ...]:
    return tuple(sorted(set(matches), key=lambda m: (m.field != "title", m.start, m.end)))


def _describe(term: Term) -> str:
    if isinstance(term, KeywordTerm):
        return term.word
    return f"{'|'.join(term.left)} NEAR/{term.distance} {'|'.join(term.right)}"


@dataclass(frozen=True, slots=True)
class Rule:
    """A validated, normalized rule ready to evaluate."""

    id: str
    outputs: Outputs
    any: tuple[Term, ...] = ()
    all: tuple[Term, ...] = ()
    none: tuple[Term, ...] = ()
    all_of: tuple[tuple[Term, ...], ...] = ()
    regex: tuple[re2._Regexp, ...] = ()
    sources: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    sentiment_max: float | None = None
    followers_min: int | None = None
    engagement_min: int | None = None
    policy: Policy = field(default_factory=Policy)
    description: str = ""
    file: str = ""
    line: int | None = None
    # ``any`` terms by keyword, and the NEAR ones: only terms whose words occurred are looked at
    _any_words: dict[str, tuple[int, ...]] | None = field(default=None, init=False, repr=False, compare=False)
    _any_near: tuple[int, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_word: dict[str, list[int]] = {}
        near: list[int] = []
        for i, term in enumerate(self.any):
            if isinstance(term, NearTerm):
                near.append(i)
            else:
                by_word.setdefault(term.word, []).append(i)
        object.__setattr__(self, "_any_words", {w: tuple(ix) for w, ix in by_word.items()})
        object.__setattr__(self, "_any_near", tuple(near))

    @property
    def terms(self) -> tuple[Term, ...]:
        """Every keyword term of the rule (any, all, all_of groups, none)."""
        return self.any + self.all + tuple(t for g in self.all_of for t in g) + self.none

    @property
    def trigger_words(self) -> frozenset[str]:
        """Words one of which must occur for this rule to fire (empty: always evaluate)."""
        if self.all:
            return frozenset(self.all[0].words)
        if self.all_of:
            return frozenset(w for t in self.all_of[0] for w in t.words)
        return frozenset(w for t in self.any for w in t.words)

    def evaluate(self, ctx: MessageContext) -> Finding | None:
        """The finding if this rule fires on the message, else ``None`` (the engine's fast path)."""
        matches: list[Match] = []
        if self._decide(ctx, matches, None) is not None:
            return None
        return self._finding(_ordered(matches))

    def judge(self, ctx: MessageContext) -> Verdict:
        """Evaluate the rule and keep the reasons: the outcome and every rejected occurrence."""
        rejected: list[Rejection] = []
        matches: list[Match] = []
        verdict = self._decide(ctx, matches, rejected)
        if verdict is not None:
            return Verdict(self.id, verdict[0], verdict[1], tuple(matches), tuple(rejected))
        ordered = _ordered(matches)
        return Verdict(self.id, "fired", "", ordered, tuple(rejected), self._finding(ordered))

    def _decide(
        self, ctx: MessageContext, matches: list[Match], rejected: list[Rejection] | None
    ) -> tuple[Outcome, str] | None:
        """Why the rule does not fire (``None``: it fires); counted matches go to ``matches``."""
        message = ctx.message
        if self.sources and message.source not in self.sources:
            return "source", message.source
        if self.channels and message.channel not in self.channels:
            return "channel", message.channel
        if not self._thresholds_hold(ctx):
            return "threshold", self._failed_threshold(ctx) if rejected is not None else ""
        verdict = self._keywords(ctx, matches, rejected)
        if verdict is None and self.regex:
            regex_hits = [m for pattern in self.regex for m in ctx.regex(pattern)]
            if not regex_hits:
                return "regex", ""
            matches.extend(regex_hits)
        return verdict

    def _keywords(
        self, ctx: MessageContext, matches: list[Match], rejected: list[Rejection] | None
    ) -> tuple[Outcome, str] | None:
        policy, found = self.policy, ctx.hits
        if self.any:
            for i in self._present(found):
                matches.extend(ctx.term(self.any[i], policy, rejected))
            if not matches:
                return "no_match", ""
        for term in self.all:
            hits = ctx.term(term, policy, rejected)
            if not hits:
                return "all_missing", _describe(term)
            matches.extend(hits)
        for i, group in enumerate(self.all_of):
            hits = [m for term in group for m in ctx.term(term, policy, rejected)]
            if not hits:
                return "group_missing", f"#{i + 1}: " + ", ".join(_describe(t) for t in group)
            matches.extend(hits)
        if self.none:
            plain = Policy(compounds=policy.compounds)  # a negated "已退款" does not exclude
            for term in self.none:
                if (isinstance(term, NearTerm) or term.word in found) and ctx.term(term, plain):
                    return "excluded", _describe(term)
        return None

    def _present(self, found: dict[str, list[Span]]) -> list[int]:
        """Indexes of the ``any`` terms that can match (NEAR terms, or a keyword that occurred), in
        rule order."""
        by_word = self._any_words or {}
        present = by_word.keys() & found.keys()  # in C, over the smaller of the two
        return sorted(chain(self._any_near, chain.from_iterable(map(by_word.__getitem__, present))))

    def _finding(self, matches: tuple[Match, ...]) -> Finding:
        o = self.outputs
        return Finding(
            rule_id=self.id,
            priority=o.priority,
            alert=o.alert,
            matches=matches,
            feedback_type=o.feedback_type,
            category=o.category,
            department=o.department,
            tags=o.tags,
            review=o.review,
        )

    def _thresholds_hold(self, ctx: MessageContext) -> bool:
        if self.sentiment_max is not None and ctx.sentiment.score > self.sentiment_max:
            return False
        author = ctx.message.author
        if self.followers_min is not None and (author.followers or 0) < self.followers_min:
            return False
        return self.engagement_min is None or ctx.message.engagement.total >= self.engagement_min

    def _failed_threshold(self, ctx: MessageContext) -> str:
        if self.sentiment_max is not None and ctx.sentiment.score > self.sentiment_max:
            return f"sentiment {ctx.sentiment.score:.2f} > {self.sentiment_max}"
        author = ctx.message.author
        if self.followers_min is not None and (author.followers or 0) < self.followers_min:
            return f"followers {author.followers or 0} < {self.followers_min}"
        if self.engagement_min is not None and ctx.message.engagement.total < self.engagement_min:
            return f"engagement {ctx.message.engagement.total} < {self.engagement_min}"
        return ""


def candidates(
    by_word: dict[str, tuple[int, ...]], always: Sequence[int], hits: dict[str, list[Span]]
) -> list[int]:
    """Indexes of rules that can fire given the keyword hits, in rule order."""
    chosen: set[int] = set(always)
    chosen.update(chain.from_iterable(map(by_word.__getitem__, by_word.keys() & hits.keys())))
    return sorted(chosen)
