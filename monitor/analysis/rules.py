"""Compiled rules and their evaluation against one message.

A :class:`Rule` is the immutable, normalized form of a YAML rule: keywords are normalized with the
same chain as messages (so one entry matches both scripts), NEAR expressions are parsed, regexes
are compiled with RE2 (linear time: no pattern can hang the daemon). :class:`MessageContext` holds
what the rules look at for one message - normalized text, tokens, keyword hits, sentiment - and
computes derived data (token boundaries, token positions) at most once.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import re2

from monitor.analysis.keywords import Span
from monitor.analysis.normalize import CJK_CLASS, Text
from monitor.analysis.schema import MatchMode
from monitor.analysis.segment import Tokens
from monitor.findings import Finding, Match, Priority, Sentiment
from monitor.message import Message

NEAR_RE = re.compile(r"^\s*(.+?)\s+NEAR/(\d+)\s+(.+?)\s*$")
_CJK_START = re.compile(f"[{CJK_CLASS}]")


@dataclass(frozen=True, slots=True)
class KeywordTerm:
    """A normalized keyword and how it must match."""

    word: str
    mode: MatchMode = "token"

    @property
    def words(self) -> tuple[str, ...]:
        return (self.word,)


@dataclass(frozen=True, slots=True)
class NearTerm:
    """``A NEAR/n B``: some A and some B with at most ``distance`` tokens between them."""

    left: tuple[str, ...]
    right: tuple[str, ...]
    distance: int
    mode: MatchMode = "token"

    @property
    def words(self) -> tuple[str, ...]:
        return self.left + self.right


Term = KeywordTerm | NearTerm


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
class Rule:
    """A validated, normalized rule ready to evaluate."""

    id: str
    outputs: Outputs
    any: tuple[Term, ...] = ()
    all: tuple[Term, ...] = ()
    none: tuple[Term, ...] = ()
    regex: tuple[re2._Regexp, ...] = ()
    sources: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    sentiment_max: float | None = None
    followers_min: int | None = None
    engagement_min: int | None = None
    description: str = ""
    file: str = ""
    line: int | None = None

    @property
    def trigger_words(self) -> frozenset[str]:
        """Words one of which must occur for this rule to fire (empty: always evaluate)."""
        if not self.any and not self.all:
            return frozenset()
        if self.all:
            return frozenset(self.all[0].words)
        return frozenset(w for t in self.any for w in t.words)

    def evaluate(self, ctx: MessageContext) -> Finding | None:
        """The finding if this rule fires on the message, else ``None``."""
        message = ctx.message
        if self.sources and message.source not in self.sources:
            return None
        if self.channels and message.channel not in self.channels:
            return None
        if not self._thresholds_hold(ctx):
            return None
        matches: list[Match] = []
        found = ctx.hits
        if self.any:
            for term in self.any:
                if isinstance(term, NearTerm) or term.word in found:
                    matches.extend(ctx.term(term))
            if not matches:
                return None
        for term in self.all:
            hits = ctx.term(term)
            if not hits:
                return None
            matches.extend(hits)
        if any(ctx.term(term) for term in self.none if isinstance(term, NearTerm) or term.word in found):
            return None
        if self.regex:
            regex_hits = [m for pattern in self.regex for m in ctx.regex(pattern)]
            if not regex_hits:
                return None
            matches.extend(regex_hits)
        o = self.outputs
        return Finding(
            rule_id=self.id,
            priority=o.priority,
            alert=o.alert,
            matches=tuple(sorted(set(matches), key=lambda m: (m.field != "title", m.start, m.end))),
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


@dataclass
class MessageContext:
    """Everything rules look at for one message; derived data is computed on first use."""

    message: Message
    text: Text
    tokens: Tokens
    hits: dict[str, list[Span]]
    sentiment: Sentiment
    title_length: int = 0  # analysed text is ``title + "\n" + text`` when the title is set
    _cache: dict[tuple[str, MatchMode], list[Span]] = field(default_factory=dict)

    @cached_property
    def _boundaries(self) -> frozenset[int]:
        return self.tokens.boundaries

    @cached_property
    def _visible_index(self) -> tuple[int, ...]:
        """For token ``i``: how many non-whitespace tokens precede it."""
        out: list[int] = []
        count = 0
        for word in self.tokens.words:
            out.append(count)
            if word.strip():
                count += 1
        return tuple(out)

    def occurrences(self, word: str, mode: MatchMode) -> list[Span]:
        """Spans (normalized offsets) where ``word`` matches in ``mode``.

        ``token``: the keyword starts and ends on token boundaries, or - for a Chinese keyword -
        it ends a longer token. Chinese compounds put the head last, so ``系统故障`` is a kind of
        ``故障`` and matches it, while ``报警器`` (a device) or ``爆炸头`` (a hairstyle) does not
        match ``报警`` / ``爆炸``. ``substring``: anywhere.
        """
        key = (word, mode)
        cached = self._cache.get(key)
        if cached is None:
            raw = self.hits.get(word, [])
            if mode == "token" and raw:
                b = self._boundaries
                suffix_ok = _CJK_START.match(word) is not None
                cached = [
                    (s, e)
                    for s, e in raw
                    if e in b and (s in b or (suffix_ok and not any(k in b for k in range(s + 1, e))))
                ]
            else:
                cached = raw
            self._cache[key] = cached
        return cached

    def term(self, term: Term) -> list[Match]:
        if isinstance(term, KeywordTerm):
            return [self.match(term.word, s, e) for s, e in self.occurrences(term.word, term.mode)]
        lefts = [(w, sp) for w in term.left for sp in self.occurrences(w, term.mode)]
        if not lefts:
            return []
        rights = [(w, sp) for w in term.right for sp in self.occurrences(w, term.mode)]
        found: list[Match] = []
        for lw, ls in lefts:
            for rw, rs in rights:
                if ls != rs and self._gap(ls, rs) <= term.distance:
                    found.append(self.match(lw, *ls))
                    found.append(self.match(rw, *rs))
        return found

    def _token_at(self, pos: int) -> int:
        return self._visible_index[bisect.bisect_right(self.tokens.starts, pos) - 1]

    def _gap(self, a: Span, b: Span) -> int:
        """Number of (non-whitespace) tokens strictly between two spans."""
        first, second = (a, b) if a[0] <= b[0] else (b, a)
        if second[0] < first[1]:
            return 0  # overlapping
        return max(0, self._token_at(second[0]) - self._token_at(first[1] - 1) - 1)

    def regex(self, pattern: re2._Regexp) -> list[Match]:
        if pattern.search(self.text.value) is None:  # one call; finditer only on a hit
            return []
        return [
            self.match(f"re:{pattern.pattern}", m.start(), m.end())
            for m in pattern.finditer(self.text.value)
            if m.end() > m.start()
        ]

    def match(self, keyword: str, start: int, end: int) -> Match:
        """A Match with offsets into the original title or text."""
        a, b = self.text.span(start, end)
        where: Literal["text", "title"] = "text"
        if self.title_length:
            if a < self.title_length:
                where = "title"
                b = min(b, self.title_length)
            else:
                a -= self.title_length + 1
                b -= self.title_length + 1
        return Match(keyword, a, b, field=where)


def parse_near(entry: str) -> tuple[list[str], list[str], int] | None:
    """``"律师|律师函 NEAR/5 起诉"`` → (['律师', '律师函'], ['起诉'], 5); ``None`` if not a NEAR term."""
    m = NEAR_RE.match(entry)
    if m is None:
        return None
    left = [w.strip() for w in m.group(1).split("|") if w.strip()]
    right = [w.strip() for w in m.group(3).split("|") if w.strip()]
    return left, right, int(m.group(2))


def candidates(
    by_word: dict[str, tuple[int, ...]], always: Sequence[int], hits: dict[str, list[Span]]
) -> list[int]:
    """Indexes of rules that can fire given the keyword hits, in rule order."""
    chosen: set[int] = set(always)
    for word in hits:
        chosen.update(by_word.get(word, ()))
    return sorted(chosen)
