"""One message as the rules see it, and a verdict for every keyword occurrence in it.

The Aho-Corasick pass reports every occurrence of every keyword; :class:`MessageContext` decides,
once per message and keyword, what each occurrence is worth (:data:`Status`):

``plain``     a real mention: counts for every rule;
``negated``   inside a negator's scope (:mod:`monitor.analysis.scope`): counts only for rules or
              keywords that opt in with ``negated: include``;
``compound``  only part of a longer listed word (``投诉箱``, ``紧急联系人``): never counts;
``number``    a digit keyword inside a longer number (``315`` in ``3150mAh``, ``13315...`` or the
              order number ``12315-0883``);
``partial``   token mode, and the keyword does not sit on token boundaries (``报警`` in ``报警器``).

Rules then apply their own policy (negation opt-in, ``unless_intent``, rule-level compounds) and
record why an occurrence was rejected, which ``yuqing rules explain`` shows.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Container
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import re2

from monitor.analysis.intent import Intent, intent_of, sentence_ends, sentence_in
from monitor.analysis.keywords import Span
from monitor.analysis.normalize import CJK_CLASS, Text
from monitor.analysis.schema import MatchMode
from monitor.analysis.scope import is_negated
from monitor.analysis.segment import Tokens
from monitor.analysis.terms import KeywordTerm, NearTerm, Term
from monitor.findings import Match, Sentiment
from monitor.message import Message

Status = Literal["plain", "negated", "compound", "number", "partial"]
Reason = Literal["negated", "compound", "number", "partial", "question"]


class Occurrence(NamedTuple):
    """One keyword occurrence in normalized offsets, with its status before negation.

    Negation is decided lazily (:meth:`MessageContext.negated`): rules that count negated mentions
    never pay for the scope scan. :meth:`MessageContext.status` gives the full status. A named
    tuple: a long mail makes ~60 of them, and a tuple is made in half the time of a frozen
    dataclass.
    """

    word: str
    start: int
    end: int
    status: Status  # "plain" here may still be negated


@dataclass(frozen=True, slots=True)
class Policy:
    """How a rule counts occurrences: negated ones too? not in information questions? extra compounds."""

    negated: bool = False
    unless_question: bool = False
    compounds: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Rejection:
    """An occurrence a rule did not count, and why."""

    match: Match
    reason: Reason


_Question = tuple[str, MatchMode, bool | None, bool, bool, frozenset[str]]
"""A cache key: word, match mode, the term's negation override and the policy's fields (a tuple of
plain values hashes in C; the policy dataclass would hash in Python on every lookup)."""

_CJK_START = re.compile(f"[{CJK_CLASS}]")
# a digit keyword hyphen-joined to more digits is part of an order or phone number: 12315-0883, 400-12315
_JOINED = re.compile(r"\d-")
# whitespace between Chinese characters: :class:`_SpaceGaps` answers per offset where its matches end
_CJK_SPACE = re.compile(f"(?<=[{CJK_CLASS}])\\s+(?=[{CJK_CLASS}])")


@dataclass
class MessageContext:
    """Everything rules look at for one message; derived data is computed on first use."""

    message: Message
    text: Text
    tokens: Tokens
    hits: dict[str, list[Span]]
    sentiment: Sentiment
    title_length: int = 0  # analysed text is ``title + "\n" + text`` when the title is set
    compounds: frozenset[str] = frozenset()  # rule-set compounds (also in the keyword index)
    _cache: dict[tuple[str, MatchMode], list[Occurrence]] = field(default_factory=dict)
    _intents: dict[tuple[int, int], Intent] = field(default_factory=dict)
    _negated: dict[int, bool] = field(default_factory=dict)
    _compound_spans: list[tuple[str, Span]] | None = None
    _encoded: bytes | str | None = None
    _gaps: Container[int] | None = None
    _sentence_ends: list[int] | None = None
    # what a term's word counts for under a policy: many rules ask the same (word, policy) question
    _counted: dict[_Question, list[Occurrence]] = field(default_factory=dict)
    _matches: dict[_Question, list[Match]] = field(default_factory=dict)

    def _compounds_found(self) -> list[tuple[str, Span]]:
        if self._compound_spans is None:
            compounds = self.compounds
            self._compound_spans = [(w, sp) for w, spans in self.hits.items() if w in compounds for sp in spans]
        return self._compound_spans

    def negated(self, start: int) -> bool:
        """Whether a keyword starting at ``start`` is inside a negator's scope (cached)."""
        answer = self._negated.get(start)
        if answer is None:
            answer = self._negated[start] = is_negated(self.tokens, start, self._space_gaps())
        return answer

    def _space_gaps(self) -> Container[int]:
        """Normalized offsets where whitespace between Chinese characters was collapsed (none when
        the text is character-aligned with the original: nothing was removed)."""
        if self._gaps is None:
            t = self.text
            self._gaps = frozenset() if t.starts is None else _SpaceGaps(t.starts, t.original)
        return self._gaps

    def _utf8(self) -> bytes | str:
        """The normalized text in UTF-8, encoded once for every pattern: RE2 matches these bytes
        (re2 encodes a str to exactly them on every call). A text with lone surrogates, which
        UTF-8 cannot hold, is handed over as it is (and fails as it did)."""
        if self._encoded is None:
            try:
                self._encoded = self.text.value.encode("utf-8")
            except UnicodeEncodeError:
                self._encoded = self.text.value
        return self._encoded

    def status(self, occ: Occurrence) -> Status:
        """The full status of an occurrence, negation included."""
        if occ.status == "plain" and self.negated(occ.start):
            return "negated"
        return occ.status

    def occurrences(self, word: str, mode: MatchMode) -> list[Occurrence]:
        """Every occurrence of ``word`` with its status (see the module docstring).

        ``token`` mode: the keyword starts and ends on token boundaries, or - for a Chinese keyword -
        it ends a longer token (compounds are head-final: ``系统故障`` is a kind of ``故障``, while
        ``报警器`` is not a kind of ``报警``). ``substring``: anywhere.
        """
        key = (word, mode)
        cached = self._cache.get(key)
        if cached is None:
            found = self.hits.get(word, ())
            cached = self._statuses(word, mode, found) if found else []
            self._cache[key] = cached
        return cached

    def _statuses(self, word: str, mode: MatchMode, spans: list[Span]) -> list[Occurrence]:
        """Each occurrence of ``word`` with its status; what depends on the word alone is decided once.

        Token boundaries (:attr:`Tokens.boundaries`: every token start and the end of the last
        token) are looked up by bisection in the sorted starts: a message asks about a few dozen
        offsets, and building the set of ~1,200 boundaries of a long mail cost more than that."""
        starts = self.tokens.starts
        last = starts[-1] + len(self.tokens.words[-1]) if starts else -1
        token, cjk = mode == "token", _CJK_START.match(word) is not None
        digit_head, digit_tail = word[0].isdigit(), word[-1].isdigit()
        compounds = self._compounds_found() if self.compounds else []
        value = self.text.value
        out: list[Occurrence] = []
        for s, e in spans:
            status: Status = "plain"
            if token and not _bounded(starts, last, s, e, cjk):
                status = "partial"
            elif (digit_head and (value[s - 1 : s].isdigit() or _JOINED.fullmatch(value[max(0, s - 2) : s]))) or (
                digit_tail and (value[e : e + 1].isdigit() or _JOINED.fullmatch(value[e : e + 2][::-1]))
            ):
                status = "number"
            elif compounds and self._covered(word, s, e, compounds):
                status = "compound"
            out.append(Occurrence(word, s, e, status))
        return out

    @staticmethod
    def _covered(word: str, s: int, e: int, spans: list[tuple[str, Span]]) -> bool:
        return any(cs <= s and e <= ce and (ce - cs) > (e - s) for w, (cs, ce) in spans if w != word)

    def intent_at(self, pos: int) -> Intent:
        """Intent of the sentence containing normalized offset ``pos``."""
        value = self.text.value
        if self._sentence_ends is None:
            self._sentence_ends = sentence_ends(value)
        bounds = sentence_in(self._sentence_ends, len(value), pos)
        intent = self._intents.get(bounds)
        if intent is None:
            intent = intent_of(self.text.value[bounds[0] : bounds[1]])
            self._intents[bounds] = intent
        return intent

    def reject(self, occ: Occurrence, policy: Policy, negated: bool | None = None) -> Reason | None:
        """Why ``policy`` does not count ``occ`` (``None``: it counts)."""
        if occ.status != "plain":
            return occ.status
        if not (policy.negated if negated is None else negated) and self.negated(occ.start):
            return "negated"
        if policy.compounds:
            spans = [(w, sp) for w in policy.compounds for sp in self.hits.get(w, ())]
            if self._covered(occ.word, occ.start, occ.end, spans):
                return "compound"
        if policy.unless_question and self.intent_at(occ.start) == "question":
            return "question"
        return None

    def term(self, term: Term, policy: Policy, rejected: list[Rejection] | None = None) -> list[Match]:
        """Matches of ``term`` that ``policy`` counts; rejected occurrences go to ``rejected``."""
        if isinstance(term, KeywordTerm):
            if rejected is None:  # the engine's path: the answer is the same for every rule asking
                key = (term.word, term.mode, term.negated, policy.negated, policy.unless_question, policy.compounds)
                counted = self._matches.get(key)
                if counted is None:
                    counted = [self.match(o.word, o.start, o.end) for o in self._counted_by(key, policy)]
                    self._matches[key] = counted
                return list(counted)
            return [self.match(o.word, o.start, o.end) for o in self._usable(term.word, term, policy, rejected)]
        hits = self.hits  # a word that did not occur has no occurrences to count or reject
        lefts = [o for w in term.left if w in hits for o in self._usable(w, term, policy, rejected)]
        if not lefts:
            return []
        rights = [o for w in term.right if w in hits for o in self._usable(w, term, policy, rejected)]
        found: list[Match] = []
        for lo in lefts:
            for ro in rights:
                ls, rs = (lo.start, lo.end), (ro.start, ro.end)
                if ls != rs and self._near(ls, rs, term.distance):
                    found.append(self.match(lo.word, *ls))
                    found.append(self.match(ro.word, *rs))
        return found

    def _counted_by(self, key: _Question, policy: Policy) -> list[Occurrence]:
        """The occurrences of ``word`` in ``mode`` that ``policy`` counts (cached per message)."""
        found = self._counted.get(key)
        if found is None:
            word, mode, negated = key[:3]
            occurrences = self.occurrences(word, mode)
            if not occurrences:
                found = []
            elif (policy.negated if negated is None else negated) and not (policy.compounds or policy.unless_question):
                found = [o for o in occurrences if o.status == "plain"]  # what reject() leaves of them
            else:
                found = [o for o in occurrences if self.reject(o, policy, negated) is None]
            self._counted[key] = found
        return found

    def _usable(
        self, word: str, term: KeywordTerm | NearTerm, policy: Policy, rejected: list[Rejection] | None
    ) -> list[Occurrence]:
        if rejected is None:
            key = (word, term.mode, term.negated, policy.negated, policy.unless_question, policy.compounds)
            return self._counted_by(key, policy)
        out: list[Occurrence] = []
        for occ in self.occurrences(word, term.mode):
            reason = self.reject(occ, policy, term.negated)
            if reason is None:
                out.append(occ)
            elif rejected is not None:
                rejected.append(Rejection(self.match(occ.word, occ.start, occ.end), reason))
        return out

    def _near(self, a: Span, b: Span, distance: int) -> bool:
        """At most ``distance`` (non-whitespace) tokens strictly between two spans. Counts only the
        tokens between them, and stops once there are too many (far-apart hits cost nothing)."""
        first, second = (a, b) if a[0] <= b[0] else (b, a)
        if second[0] < first[1]:
            return True  # overlapping
        starts, words = self.tokens.starts, self.tokens.words
        i = bisect.bisect_right(starts, first[1] - 1) - 1  # the token holding the first's last character
        j = bisect.bisect_right(starts, second[0]) - 1  # the token holding the second's first character
        between = 0
        for k in range(i + 1, j):
            if words[k].strip():
                between += 1
                if between > distance:
                    return False
        return True

    def regex(self, pattern: re2._Regexp) -> list[Match]:
        if pattern.search(self._utf8()) is None:  # one call on the bytes; finditer only on a hit
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


def _bounded(starts: tuple[int, ...], last: int, s: int, e: int, cjk: bool) -> bool:
    """Token mode's test for the keyword at ``[s, e)``: it ends on a token boundary and starts on
    one, or - Chinese - no boundary lies inside it (it ends a longer token). ``starts`` never
    decreases; ``last`` is where the last token ends (-1: no tokens)."""
    n = len(starts)
    k = bisect.bisect_left(starts, e)
    if not ((k < n and starts[k] == e) or e == last):
        return False
    k = bisect.bisect_left(starts, s)
    if (k < n and starts[k] == s) or s == last:
        return True
    if not cjk:
        return False
    k = bisect.bisect_right(starts, s)  # the first start after s
    return not ((k < n and starts[k] < e) or s < last < e)


class _SpaceGaps:
    """The normalized offsets ``p`` whose original character ``starts[p]`` ends a run of whitespace
    between two Chinese characters (where :data:`_CJK_SPACE` ends a match), answered per offset.

    Negation asks about a few token starts per keyword; scanning the whole original text for such
    runs, as the set of all of them needed, cost more than answering those few questions."""

    __slots__ = ("_original", "_starts")

    def __init__(self, starts: tuple[int, ...], original: str) -> None:
        self._starts = starts
        self._original = original

    def __contains__(self, p: object) -> bool:
        starts, original = self._starts, self._original
        if not isinstance(p, int) or not 0 <= p < len(starts):
            return False
        o = starts[p]
        if not 0 < o < len(original) or not original[o - 1].isspace() or not _CJK_START.match(original, o):
            return False
        k = o - 1  # the run is original[k:o]; it must follow a Chinese character
        while k > 0 and original[k - 1].isspace():
            k -= 1
        return k > 0 and _CJK_START.match(original, k - 1) is not None
