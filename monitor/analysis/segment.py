"""Word segmentation with jieba: the dictionary loads once per process, each rule set adds its words.

jieba's dictionary costs about half a second and ~75 MB to load from jieba's cache. Each compiled
rule set gets a :class:`Segmenter`: its own copy of the dictionary plus that set's keywords,
lexicon words and extra dictionaries, cut by :mod:`monitor.analysis.dictcut` (jieba's algorithm
run by jieba-rs: the same tokens, ~15x faster, and a table a third of the size). :func:`tokenizer`
is jieba's own, for code that wants jieba itself (never modified). Rule sets therefore never change
each other's segmentation - a hot reload or a backtest cannot alter how the running set cuts text -
and a set's words disappear with it.

A keyword gets the frequency jieba's ``suggest_freq`` computes: just enough that the keyword is
cut as one token on its own, but not so much that it steals characters from longer dictionary
words (``报警`` stays inside ``报警器``). Segmentation runs without jieba's HMM new-word guessing:
dictionary-only cutting is faster and predictable for rule authors (the HMM only regroups runs of
single characters, so keyword boundaries do not depend on it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from monitor.analysis import dictcache
from monitor.analysis.dictcut import DictCut, Table, table
from monitor.analysis.jieba_import import jieba

jieba.setLogLevel(logging.WARNING)

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None


def tokenizer() -> jieba.Tokenizer:
    """The process-wide base tokenizer (jieba's default dictionary), loaded once, never modified."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                tok = jieba.Tokenizer()
                tok.initialize()
                _tokenizer = tok
    return _tokenizer


@dataclass(frozen=True, slots=True)
class Tokens:
    """Tokens of a normalized text with their offsets (tokens concatenate to the text)."""

    words: tuple[str, ...]
    starts: tuple[int, ...]

    @property
    def boundaries(self) -> frozenset[int]:
        """Every offset where a token starts or ends (tokens are contiguous: each ends where the
        next starts, so the starts and the end of the last token are all of them)."""
        if not self.words:
            return frozenset()
        return frozenset(self.starts).union((self.starts[-1] + len(self.words[-1]),))

    def visible(self) -> list[str]:
        """Tokens without whitespace-only ones (for display)."""
        return [w for w in self.words if w.strip()]


class Segmenter:
    """Cuts normalized text with the base dictionary plus ``words`` and ``dictionaries``.

    Each segmenter loads its own copy of jieba's default dictionary (from jieba's cache), adds its
    words with jieba's own ``suggest_freq`` and hands the final table to
    :class:`~monitor.analysis.dictcut.DictCut`, which cuts exactly as ``lcut(HMM=False)`` does; the
    Python table is dropped afterwards (the process-wide :func:`tokenizer` is loaded only where
    jieba itself is wanted). The final table is cached (:mod:`monitor.analysis.dictcache`): the
    same words and dictionaries again skip jieba's dictionary.
    """

    def __init__(self, words: Iterable[str] = (), dictionaries: Sequence[Path] = ()) -> None:
        self._cut = DictCut(_table(sorted({w for w in words if w.strip()}), dictionaries))

    def __call__(self, text: str) -> Tokens:
        words = self._cut(text)
        starts = tuple(accumulate(map(len, words), initial=0))
        return Tokens(tuple(words), starts[:-1])


def _table(words: Sequence[str], dictionaries: Sequence[Path]) -> Table:
    """jieba's dictionary with ``dictionaries`` and ``words`` added, as :class:`DictCut` takes it:
    from :mod:`monitor.analysis.dictcache` when this very table was built before."""
    wanted = dictcache.key(words, dictionaries)
    cached = dictcache.load(wanted) if wanted is not None else None
    if cached is not None:
        return cached
    tok = jieba.Tokenizer()
    tok.initialize()
    for path in dictionaries:
        tok.load_userdict(str(path))
    for word in words:
        tok.add_word(word, freq=tok.suggest_freq(word, tune=False))
    built = table(tok.FREQ, tok.total)
    if wanted is not None:
        dictcache.store(wanted, built)
    return built


_default: Segmenter | None = None


def segment(text: str) -> Tokens:
    """Cut text with the base dictionary only (training, benchmarks; rule sets use their own)."""
    global _default
    if _default is None:
        _default = Segmenter()
    return _default(text)


WINDOW = 24  # characters of context segmented around a keyword found past the analysis limit


def segment_limited(segment: Segmenter, text: str, limit: int, spans: Iterable[tuple[int, int]]) -> Tokens:
    """Tokens of a very long text: the first ``limit`` characters are segmented, and beyond them
    only a window of ``WINDOW`` characters around each keyword occurrence in ``spans`` (the
    Aho-Corasick pass still sees the whole text). Each stretch not segmented is one opaque token,
    so offsets stay exact and boundaries inside a window are the segmenter's own."""
    if len(text) <= limit:
        return segment(text)
    covered: list[tuple[int, int]] = [(0, limit)]
    for start, end in sorted(s for s in spans if s[1] > limit):
        a, b = max(limit, start - WINDOW), min(len(text), end + WINDOW)
        if a <= covered[-1][1]:
            covered[-1] = (covered[-1][0], max(covered[-1][1], b))
        else:
            covered.append((a, b))
    words: list[str] = []
    starts: list[int] = []
    pos = 0
    for a, b in [*covered, (len(text), len(text))]:
        if a > pos:  # the stretch nobody segmented
            words.append(text[pos:a])
            starts.append(pos)
        if b > a:
            part = segment(text[a:b])
            words.extend(part.words)
            starts.extend(a + s for s in part.starts)
        pos = max(pos, b)
    return Tokens(tuple(words), tuple(starts))
