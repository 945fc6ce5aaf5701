"""Lexicon sentiment: polarity words, negation, degree adverbs and contrast, from a YAML file.

The score of a sentiment word is its weight, multiplied by the degree adverbs just before it
(``非常`` ×1.8, ``有点`` ×0.6) and flipped by an odd number of negations just before it (``不``,
``没有``). A negation directly before a degree adverb softens instead of flipping (``不太好`` is
mildly negative, not strongly). Clauses after a contrast word (``但是``) count more than those
before it. The sum is squashed into [-1, 1] with ``tanh``.

The shipped lexicon (``lexicon.yaml`` beside this module) was written for this project; users
extend it with a domain lexicon in the same format (their entries override ours).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitor.analysis.normalize import Normalizer

SHIPPED = Path(__file__).with_name("lexicon.yaml")
_CLAUSE_CHARS = frozenset(",.!?;:~。、…\n")
WINDOW = 3


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Normalized word tables."""

    polarity: Mapping[str, float]
    degree: Mapping[str, float]
    negations: frozenset[str]
    contrast: frozenset[str]
    scale: float = 1.5
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def words(self) -> frozenset[str]:
        return frozenset(self.polarity) | frozenset(self.degree) | self.negations | self.contrast

    def merged(self, other: Lexicon) -> Lexicon:
        """This lexicon with ``other``'s entries added on top (``other`` wins)."""
        return Lexicon(
            {**self.polarity, **other.polarity},
            {**self.degree, **other.degree},
            self.negations | other.negations,
            self.contrast | other.contrast,
            other.scale,
        )


def load_lexicon(path: Path, normalizer: Normalizer | None = None) -> Lexicon:
    """Read a lexicon YAML (``positive``/``negative``: word → weight or list; ``degree``;
    ``negations``; ``contrast``). Words are normalized, so traditional entries work too."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a lexicon is a mapping")
    norm = normalizer or Normalizer()
    polarity: dict[str, float] = {}
    for key, sign in (("positive", 1.0), ("negative", -1.0)):
        for word, weight in _weighted(data.get(key), 1.0).items():
            polarity[norm.word(word)] = sign * abs(weight)
    degree = {norm.word(w): v for w, v in _weighted(data.get("degree"), 1.5).items()}
    negations = frozenset(norm.word(str(w)) for w in data.get("negations") or [])
    contrast = frozenset(norm.word(str(w)) for w in data.get("contrast") or [])
    scale = float(data.get("scale", 1.5))
    return Lexicon(polarity, degree, negations, contrast, scale)


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


class LexiconScorer:
    """Scores tokens with a :class:`Lexicon`; ``score(text, tokens)`` is in [-1, 1]."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self._prefixes = sorted(lexicon.negations | frozenset(lexicon.degree), key=len, reverse=True)
        self._expanded: dict[str, tuple[str, ...]] = {}
        self._prefix_starts = frozenset(p[0] for p in self._prefixes if p)

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

    def score(self, text: str, tokens: Sequence[str]) -> float:
        lex = self.lexicon
        polarity = lex.polarity
        contrast = lex.contrast
        starts = self._prefix_starts
        total = 0.0
        clause = 0.0
        clause_weight = 1.0
        recent: list[str] = []
        for word in tokens:
            first = word[:1]
            if first in _CLAUSE_CHARS:
                total += clause * clause_weight
                clause, recent = 0.0, []
                continue
            if first in starts and len(word) > 1 and word not in polarity:
                parts = self.expand(word)
                recent.extend(parts[:-1])
                word = parts[-1]
            elif word.isspace():
                continue
            if word in contrast:
                total = total * 0.5 + clause * clause_weight * 0.5
                clause, clause_weight, recent = 0.0, 1.5, []
                continue
            weight = polarity.get(word)
            if weight is not None:
                clause += self._modified(weight, recent[-WINDOW:])
            recent.append(word)
            if len(recent) > 2 * WINDOW:
                del recent[:-WINDOW]
        total += clause * clause_weight
        return math.tanh(total / lex.scale)

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
