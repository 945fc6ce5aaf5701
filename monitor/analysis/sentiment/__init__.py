"""Sentiment: a score in [-1, 1] and a label per message, by a trained model or a lexicon.

Both methods implement :class:`Scorer` (``score(normalized_text, tokens) -> float``);
:class:`SentimentStage` turns a score into a :class:`~monitor.findings.Sentiment` with a
neutral band. Which method runs and which files it reads come from :class:`SentimentSettings`
(``sentiment:`` in a rule file, or passed by the daemon).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from monitor.analysis.normalize import CJK_CLASS, Normalizer
from monitor.analysis.schema import SentimentSettings
from monitor.analysis.sentiment.cantonese import is_cantonese, to_mandarin
from monitor.analysis.sentiment.grams import SHORT, codes
from monitor.analysis.sentiment.lexicon import SARCASM_DAMP, Lexicon, LexiconScorer, load_lexicon
from monitor.analysis.sentiment.lexicon import SHIPPED as SHIPPED_LEXICON
from monitor.analysis.sentiment.linear import LinearModel
from monitor.findings import Sentiment

SHIPPED_MODEL = Path(__file__).with_name("model.json")
_CJK_RE = re.compile(f"[{CJK_CLASS}]")
_CJK_RUN = re.compile(f"[{CJK_CLASS}]+")
_LATIN_RE = re.compile("[a-zA-Z]+")


def _class_table(ranges: str) -> np.ndarray[tuple[int], np.dtype[np.bool_]]:
    """``table[code point]`` is True for the characters of a regex class body of ranges
    (``a-zA-Z``) in the Basic Multilingual Plane; index 0xFFFF (a noncharacter) stands for
    everything beyond it and is False."""
    if len(ranges) % 3 or any(ranges[i + 1] != "-" for i in range(0, len(ranges), 3)):
        raise ValueError(f"not a class of ranges: {ranges!r}")
    table = np.zeros(0x10000, dtype=np.bool_)
    for i in range(0, len(ranges), 3):
        table[ord(ranges[i]) : ord(ranges[i + 2]) + 1] = True
    if table[0xFFFF]:
        raise ValueError("the class reaches U+FFFF")
    return table


_IS_CJK = _class_table(CJK_CLASS)
_IS_LATIN = _class_table("a-zA-Z")

__all__ = ["SHIPPED_LEXICON", "SHIPPED_MODEL", "HybridScorer", "Scorer", "SentimentStage", "build_sentiment"]


class Scorer(Protocol):
    def score(self, text: str, tokens: Sequence[str]) -> float: ...


def cjk_share(text: str) -> float:
    """How much of ``text`` the (Chinese-trained) model can read: 1.0 when CJK characters are at
    least as many as Latin words (``USB端口少`` is Chinese), falling to 0 for English.

    A long text is counted with two table lookups over its code points (a tenth of the regex
    passes' time on a mail); both ways count the same characters and runs."""
    if len(text) >= SHORT:
        points = np.minimum(np.frombuffer(codes(text), dtype=np.uint32), 0xFFFF)
        cjk = int(np.count_nonzero(_IS_CJK[points]))
        letters = _IS_LATIN[points]
        latin = int(np.count_nonzero(letters[1:] & ~letters[:-1])) + int(letters[0])  # runs: their starts
    else:
        if not _LATIN_RE.search(text):
            return 1.0 if _CJK_RE.search(text) else 0.0
        cjk = len(text) - len(_CJK_RUN.sub("", text))  # counts by runs: no list, few replacements
        latin = _LATIN_RE.subn("", text)[1]
    if not latin:
        return 1.0 if cjk else 0.0
    return min(1.0, 2.0 * cjk / (cjk + latin))


@dataclass(frozen=True, slots=True)
class HybridScorer:
    """The default: ``tanh((share·margin + w·lexicon + e·emoticons) / 2)`` over what the author wrote.

    The model knows the e-commerce vocabulary of its training data; the lexicon adds words and
    negation handling the model never saw (delivery, service, Cantonese, English) and the
    emoticons add what social posts say without words. Both read the same :class:`Reading`
    (own words of a repost, service formulas cut out). The model was trained on Chinese only, so
    its margin (bias included) is scaled by the share of CJK characters: English feedback is
    scored by the lexicon alone. See docs/sentiment.md for numbers.
    """

    model: LinearModel
    lexicon: LexiconScorer
    lexicon_weight: float = 1.5
    emoticon_weight: float = 2.5

    def score(self, text: str, tokens: Sequence[str]) -> float:
        lex = self.lexicon
        reading = lex.reader(text, tokens)
        share = cjk_share(reading.text)
        margin = share * self._model_margin(reading.text, reading.tokens) if share else 0.0
        words = math.tanh(lex.total(reading.tokens, sarcasm=reading.sarcasm) / lex.lexicon.scale)
        emoticons = math.tanh(reading.emoticons / lex.lexicon.scale)
        margin += self.lexicon_weight * words + self.emoticon_weight * emoticons
        if reading.sarcasm and margin > 0:
            margin *= SARCASM_DAMP  # 真好[doge]: praise next to a sarcasm-prone emoticon is doubtful
        return reading.adjust(math.tanh(margin / 2.0))

    def _model_margin(self, text: str, tokens: Sequence[str]) -> float:
        if is_cantonese(text):
            return self.model.margin(*to_mandarin(text, tokens))
        return self.model.margin(text, tokens)


@dataclass(frozen=True, slots=True)
class SentimentStage:
    """Score plus label: ``negative`` below ``negative_below``, ``positive`` above ``positive_above``."""

    scorer: Scorer
    negative_below: float = -0.2
    positive_above: float = 0.2
    method: str = "model"

    def __call__(self, text: str, tokens: Sequence[str]) -> Sentiment:
        score = max(-1.0, min(1.0, self.scorer.score(text, tokens)))
        if score < self.negative_below:
            return Sentiment(round(score, 4), "negative")
        if score > self.positive_above:
            return Sentiment(round(score, 4), "positive")
        return Sentiment(round(score, 4), "neutral")

    @property
    def words(self) -> frozenset[str]:
        """Words the scorer needs as single tokens (lexicon entries)."""
        if isinstance(self.scorer, LexiconScorer):
            return self.scorer.lexicon.words
        if isinstance(self.scorer, HybridScorer):
            return self.scorer.lexicon.lexicon.words
        return frozenset()


@functools.lru_cache(maxsize=8)
def _model(path: Path, mtime_ns: int) -> LinearModel:
    return LinearModel.load(path)


@functools.lru_cache(maxsize=8)
def _lexicon(path: Path, mtime_ns: int) -> Lexicon:
    return load_lexicon(path, Normalizer())


def load_model(path: Path) -> LinearModel:
    """Load a model file, cached by path and modification time (hot reloads stay cheap)."""
    return _model(path.resolve(), path.stat().st_mtime_ns)


def build_sentiment(settings: SentimentSettings | None = None, base: Path | None = None) -> SentimentStage:
    """The sentiment stage for the given settings (``None``: the shipped default)."""
    s = settings or SentimentSettings()
    root = base or Path.cwd()
    lexicon = _lexicon(SHIPPED_LEXICON, SHIPPED_LEXICON.stat().st_mtime_ns)
    if s.lexicon:
        user = (root / s.lexicon).resolve()
        lexicon = lexicon.merged(_lexicon(user, user.stat().st_mtime_ns))
    if s.method == "lexicon":
        return SentimentStage(LexiconScorer(lexicon), s.negative_below, s.positive_above, "lexicon")
    model = load_model((root / s.model).resolve() if s.model else SHIPPED_MODEL)
    if s.method == "model":
        return SentimentStage(model, s.negative_below, s.positive_above, "model")
    scorer = HybridScorer(model, LexiconScorer(lexicon), s.lexicon_weight)
    return SentimentStage(scorer, s.negative_below, s.positive_above, "hybrid")
