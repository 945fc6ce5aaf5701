"""Lexicon sentiment: polarity words, negation, degree adverbs and contrast, from a YAML file.

The score of a sentiment word is its weight, multiplied by the degree adverbs just before it
(``非常`` ×1.8, ``有点`` ×0.6, ``very``) and flipped by an odd number of negations just before it
(``不``, ``没有``, Cantonese ``唔``/``冇``, English ``not``/``n't``). A negation directly before a
degree adverb softens instead of flipping (``不太好``, ``not very good`` are mildly negative). A
word listed both as degree and as polarity (``好``, ``勁``, ``pretty``) is a degree adverb when a
sentiment word follows (Cantonese ``好正``, ``好差``; ``pretty good``) and a sentiment word otherwise.
Clauses after a contrast word (``但是``, ``but``) count more than those before it. Emoticons, the
repost/reply structure of social posts and polite service formulas are read first
(:mod:`.reading`). The sum is squashed into [-1, 1] with ``tanh``.

The shipped lexicon (``lexicon.yaml`` beside this module) was written for this project; users
extend it with a domain lexicon in the same format (their entries override ours).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, count
from pathlib import Path
from typing import Any

import yaml

from monitor.analysis.normalize import Normalizer
from monitor.analysis.sentiment.reading import Reader

SHIPPED = Path(__file__).with_name("lexicon.yaml")
_CLAUSE_CHARS = frozenset(",.!?;:~。、…\n")
_APOSTROPHES = frozenset("'’")
BREAK = "\n"
WINDOW = 3
SARCASM_DAMP = 0.3  # positive words next to a sarcasm-prone emoticon ([doge], [微笑], 🙂) count 0.3×
_BREAK: tuple[str, ...] = (BREAK,)  # word kinds for LexiconScorer.prepare (compared by identity)
_T: tuple[str, ...] = ("t",)
_SPACE: tuple[str, ...] = ("<space>",)
_SCORED: tuple[str, ...] = ("<scored>",)  # kept as it is, and one of the words total() visits
_KINDS_MAX = 50_000  # distinct words whose kind is remembered (~6 MB at most; numbers and ids are a long tail)


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Normalized word tables (see ``lexicon.yaml`` for what each one means)."""

    polarity: Mapping[str, float]
    degree: Mapping[str, float]
    negations: frozenset[str]
    contrast: frozenset[str]
    scale: float = 1.5
    emoticons: Mapping[str, float] | None = None
    sarcasm: frozenset[str] = frozenset()
    service: frozenset[str] = frozenset()
    particles: frozenset[str] = frozenset()
    courtesy: frozenset[str] = frozenset()

    @property
    def words(self) -> frozenset[str]:
        """Words the segmenter must cut as single tokens."""
        return (
            frozenset(self.polarity)
            | frozenset(self.degree)
            | self.negations
            | self.contrast
            | self.particles
        )

    def merged(self, other: Lexicon) -> Lexicon:
        """This lexicon with ``other``'s entries added on top (``other`` wins)."""
        return Lexicon(
            {**self.polarity, **other.polarity},
            {**self.degree, **other.degree},
            self.negations | other.negations,
            self.contrast | other.contrast,
            other.scale,
            {**(self.emoticons or {}), **(other.emoticons or {})},
            self.sarcasm | other.sarcasm,
            self.service | other.service,
            self.particles | other.particles,
            self.courtesy | other.courtesy,
        )


def load_lexicon(path: Path, normalizer: Normalizer | None = None) -> Lexicon:
    """Read a lexicon YAML. Words are normalized, so traditional and full-width entries work too.

    Sections: ``positive``/``negative`` (word → weight, or weight → list of words), ``neutral``
    (words that are never split into a degree adverb and a sentiment word: ``好好``), ``degree``,
    ``negations``, ``contrast``, ``emoticons`` (signed weight → list: ``[哈哈]``, emoji, ``:)``),
    ``sarcasm`` (emoticons that damp positive words), ``service`` (polite service formulas),
    ``courtesy`` (greetings cut out without marking an agent reply), ``particles`` (words only cut out for segmentation, e.g. Cantonese ``咗``/``嘅``), ``scale``.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a lexicon is a mapping")
    norm = normalizer or Normalizer()
    polarity: dict[str, float] = {}
    for word in data.get("neutral") or []:  # known words with no polarity: never split (好好)
        polarity[norm.word(str(word))] = 0.0
    for key, sign in (("positive", 1.0), ("negative", -1.0)):
        for word, weight in _weighted(data.get(key), 1.0).items():
            polarity[norm.word(word)] = sign * abs(weight)
    emoticons = {_emoticon_key(norm.word(w)): v for w, v in _weighted(data.get("emoticons"), 1.0).items()}

    def words(key: str) -> frozenset[str]:
        return frozenset(norm.word(str(w)) for w in data.get(key) or [])

    return Lexicon(
        polarity,
        {norm.word(w): v for w, v in _weighted(data.get("degree"), 1.5).items()},
        words("negations"),
        words("contrast"),
        float(data.get("scale", 1.5)),
        emoticons,
        frozenset(_emoticon_key(w) for w in words("sarcasm")),
        words("service"),
        words("particles"),
        words("courtesy"),
    )


def _emoticon_key(word: str) -> str:
    """Emoji are looked up without the variation selector (``❤️`` and ``❤`` are one entry)."""
    return word.replace("\ufe0f", "")


def _weighted(section: Any, default: float) -> dict[str, float]:
    if section is None:
        return {}
    if isinstance(section, list):
        return {str(w): default for w in section}
    if isinstance(section, dict):
        out: dict[str, float] = {}
        for key, value in section.items():
            if isinstance(value, list):  # grouped by weight: {1.5: [很好, 完美]}
                out.update({str(w): float(key) for w in value})
            else:
                out[str(key)] = float(value)
        return out
    raise ValueError("a lexicon section is a list or a mapping")


class _Kinds(dict[str, tuple[str, ...] | None]):
    """``word -> kind`` for :meth:`LexiconScorer.prepare`, classified on first sight (bounded)."""

    def __init__(self, classify: Callable[[str], tuple[str, ...] | None]) -> None:
        super().__init__()
        self._classify = classify

    def __missing__(self, word: str) -> tuple[str, ...] | None:
        kind = self._classify(word)
        if len(self) < _KINDS_MAX:
            self[word] = kind
        return kind


class LexiconScorer:
    """Scores tokens with a :class:`Lexicon`; ``score(text, tokens)`` is in [-1, 1]."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.reader = Reader(lexicon)
        self._prefixes = sorted(lexicon.negations | frozenset(lexicon.degree), key=len, reverse=True)
        self._expanded: dict[str, tuple[str, ...]] = {}
        self._prefix_starts = frozenset(p[0] for p in self._prefixes if p and not p.isascii())
        self._kinds = _Kinds(self._classify)
        # the words that change :meth:`total`'s sum: clause breaks, contrast and sentiment words
        self._scored = frozenset(lexicon.polarity) | lexicon.contrast | {BREAK}
        self._modifiers = lexicon.negations | frozenset(lexicon.degree)  # what :meth:`_modified` reads

    def expand(self, word: str) -> tuple[str, ...]:
        """Split a dictionary word that glues a negation or degree adverb to a sentiment word.

        jieba knows ``不难``, ``不太好`` and ``很好`` as single words; scoring needs ``不|难``,
        ``不|太|好`` and ``很|好``.
        """
        cached = self._expanded.get(word)
        if cached is not None:
            return cached
        result: tuple[str, ...] = (word,)
        if word not in self.lexicon.polarity and len(word) > 1:
            for prefix in self._prefixes:
                if word.startswith(prefix) and len(word) > len(prefix):
                    rest = self.expand(word[len(prefix) :])
                    if rest[-1] in self.lexicon.polarity:
                        result = (prefix, *rest)
                        break
        if len(self._expanded) < 100_000:
            self._expanded[word] = result
        return result

    def prepare(self, tokens: Sequence[str]) -> list[str]:
        """Tokens as the scorer reads them: clause breaks as ``\\n``, glued prefixes split,
        English ``n't`` (cut by jieba into ``don`` ``'`` ``t``) turned into ``not``, spaces gone."""
        return self._read(tokens)[0]

    def _read(self, tokens: Sequence[str]) -> tuple[list[str], list[int]]:
        """:meth:`prepare`'s words, and the indexes among them of the words :meth:`total` visits
        (clause breaks, contrast and sentiment words), in order.

        Each distinct word is classified once (:class:`_Kinds`); most words are kept as they are and
        change no sum (kind ``None``, falsy), so only the others are visited here and the runs
        between them are copied as slices."""
        kinds, scored = self._kinds, self._scored
        out: list[str] = []
        visits: list[int] = []
        pos = 0
        for i in compress(count(), map(kinds.__getitem__, tokens)):
            if i > pos:
                out.extend(tokens[pos:i])
            pos = i + 1
            word = tokens[i]
            kind = kinds[word]
            if kind is _SCORED:
                visits.append(len(out))
                out.append(word)
            elif kind is _BREAK:
                if out and out[-1] != BREAK:
                    visits.append(len(out))
                    out.append(BREAK)
            elif kind is _T:
                if len(out) >= 2 and out[-1] in _APOSTROPHES:
                    out.pop()
                    while visits and visits[-1] >= len(out) - 1:  # the apostrophe, the word replaced
                        visits.pop()
                    out[-1] = "not"
                    if "not" in scored:
                        visits.append(len(out) - 1)
                else:
                    if "t" in scored:
                        visits.append(len(out))
                    out.append("t")
            elif kind is not None and kind is not _SPACE:  # an expansion
                visits.extend(len(out) + k for k, part in enumerate(kind) if part in scored)
                out.extend(kind)
        if pos < len(tokens):
            out.extend(tokens[pos:])
        return out, visits

    def _classify(self, word: str) -> tuple[str, ...] | None:
        """What :meth:`prepare` does with ``word``: ``None`` keeps it, :data:`_SCORED` keeps it as
        a word that changes the sum, :data:`_BREAK` ends the clause, :data:`_T` may complete
        ``n't``, :data:`_SPACE` drops it, a tuple replaces it."""
        first = word[:1]
        if first in _CLAUSE_CHARS:
            return _BREAK
        if word == "t":
            return _T
        kept = _SCORED if word in self._scored else None
        if first in self._prefix_starts and len(word) > 1 and word not in self.lexicon.polarity:
            parts = self.expand(word)
            return kept if parts == (word,) else parts
        return _SPACE if word.isspace() else kept

    def total(self, tokens: Sequence[str], *, sarcasm: bool = False) -> float:
        """The unsquashed sum over prepared tokens (clauses, contrast, negation, degree).

        Only clause breaks, contrast words and sentiment words change the sum, so only they are
        visited (:meth:`_read` lists them); a sentiment word's modifiers are the up to :data:`WINDOW` words before
        it in its clause (when none of them is a negation or degree word, the value is the weight:
        :meth:`_modified` would multiply it by 1.0). The sum is the same sequence of float
        operations as one pass over all."""
        lex = self.lexicon
        polarity, degree, contrast = lex.polarity, lex.degree, lex.contrast
        modifiers = self._modifiers
        words, visits = self._read(tokens)
        n = len(words)
        total = clause = 0.0
        clause_weight = 1.0
        start = 0  # where the current clause starts: modifiers never reach across a break
        for i in visits:
            word = words[i]
            if word == BREAK:
                total += clause * clause_weight
                clause, start = 0.0, i + 1
                continue
            if word in contrast:
                total = total * 0.5 + clause * clause_weight * 0.5
                clause, clause_weight, start = 0.0, 1.5, i + 1
                continue
            if word in degree and i + 1 < n and words[i + 1] in polarity:
                continue  # 好正, 好差, pretty good: a degree adverb here
            before = words[max(start, i - WINDOW) : i]
            # most sentiment words have no modifier before them: the weight itself (× 1.0)
            value = polarity[word] if modifiers.isdisjoint(before) else self._modified(polarity[word], before)
            clause += value * SARCASM_DAMP if sarcasm and value > 0 else value
        return total + clause * clause_weight

    def score(self, text: str, tokens: Sequence[str]) -> float:
        reading = self.reader(text, tokens)
        raw = self.total(reading.tokens, sarcasm=reading.sarcasm) + reading.emoticons
        return reading.adjust(math.tanh(raw / self.lexicon.scale))

    def _modified(self, weight: float, before: Sequence[str]) -> float:
        lex = self.lexicon
        factor = 1.0
        negated = False
        softened = False
        skip_degree = False
        for i, word in enumerate(before):
            if word in lex.negations:
                if i + 1 < len(before) and before[i + 1] in lex.degree:
                    softened, skip_degree = True, True  # 不太好: mildly negative, not reversed
                else:
                    negated = not negated
            elif word in lex.degree:
                if skip_degree:
                    skip_degree = False
                else:
                    factor *= lex.degree[word]
        if softened:
            return -0.4 * weight
        value = weight * factor
        return -0.8 * value if negated else value
