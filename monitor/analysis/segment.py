"""Word segmentation with jieba: the dictionary loads once per process, each rule set adds its words.

jieba's dictionary costs about half a second and ~75 MB to load, so the process loads it exactly
once (:func:`tokenizer`, the *base*, never modified). Each compiled rule set gets a
:class:`Segmenter`: a tokenizer whose frequency table is a shallow copy of the base (~15 MB, a few
tens of ms) plus that set's keywords, lexicon words and extra dictionaries. Rule sets therefore
never change each other's segmentation - a hot reload or a backtest cannot alter how the running
set cuts text - and a set's words disappear with it.

A keyword gets the frequency jieba's ``suggest_freq`` computes: just enough that the keyword is
cut as one token on its own, but not so much that it steals characters from longer dictionary
words (``报警`` stays inside ``报警器``). Segmentation runs without jieba's HMM new-word guessing:
dictionary-only cutting is faster and predictable for rule authors (the HMM only regroups runs of
single characters, so keyword boundaries do not depend on it).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

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
        """Every offset where a token starts or ends."""
        ends = [s + len(w) for s, w in zip(self.starts, self.words, strict=True)]
        return frozenset(self.starts).union(ends)

    def visible(self) -> list[str]:
        """Tokens without whitespace-only ones (for display)."""
        return [w for w in self.words if w.strip()]


def _fast_cut(tok: jieba.Tokenizer) -> Callable[[str], list[str]]:
    """``tok.lcut(text, HMM=False)`` without its per-call overhead (same blocks, same DAG cut).

    jieba's ``cut`` is a generator that re-yields every word of its block cutter and checks for
    paddle on each call; on short messages that is a fifth of the time. We split blocks with
    jieba's own patterns and call its dictionary cutter directly. jieba is pinned to 0.42.x; if its
    internals move, we fall back to the public ``lcut`` (a test checks both agree).
    """
    dag = getattr(tok, "_Tokenizer__cut_DAG_NO_HMM", None)
    re_han: re.Pattern[str] | None = getattr(jieba, "re_han_default", None)
    re_skip: re.Pattern[str] | None = getattr(jieba, "re_skip_default", None)
    if dag is None or re_han is None or re_skip is None:
        return lambda text: list(tok.lcut(text, HMM=False))

    def cut(text: str) -> list[str]:
        words: list[str] = []
        for block in re_han.split(text):
            if not block:
                continue
            if re_han.match(block):
                words.extend(dag(block))
            else:
                for part in re_skip.split(block):
                    if re_skip.match(part):
                        words.append(part)
                    else:
                        words.extend(part)
        return words

    return cut


class Segmenter:
    """Cuts normalized text with the base dictionary plus ``words`` and ``dictionaries``."""

    def __init__(self, words: Iterable[str] = (), dictionaries: Sequence[Path] = ()) -> None:
        words = [w for w in words if w.strip()]
        if not words and not dictionaries:
            self.tokenizer = tokenizer()
        else:
            # Its own copy of the default dictionary, loaded from jieba's cache rather than copied
            # from the process-wide base tokenizer: the daemon then holds one ~500k-entry table,
            # not two (the base is only loaded where it is used on its own: lint, training).
            tok = jieba.Tokenizer()
            tok.initialize()
            for path in dictionaries:
                tok.load_userdict(str(path))
            for word in sorted(set(words)):
                tok.add_word(word, freq=tok.suggest_freq(word, tune=False))
            self.tokenizer = tok
        self._cut = _fast_cut(self.tokenizer)

    def __call__(self, text: str) -> Tokens:
        words = tuple(self._cut(text))
        starts: list[int] = []
        pos = 0
        for w in words:
            starts.append(pos)
            pos += len(w)
        return Tokens(words, tuple(starts))


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
