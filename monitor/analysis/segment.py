"""Word segmentation with jieba, one dictionary per process, extended by every rule keyword.

jieba's dictionary costs about half a second and tens of MB to load, so the process holds exactly
one :class:`jieba.Tokenizer` (created on first use) and every rule set loaded later adds its
keywords to it. A keyword gets the frequency jieba's ``suggest_freq`` computes: just enough that
the keyword is cut as one token on its own, but not so much that it steals characters from longer
dictionary words (``报警`` stays inside ``报警器``). Words are never removed, so a hot reload can
not change how a rule set that is still running segments text.

Segmentation runs without jieba's HMM new-word guessing: it is twice as fast, and dictionary-only
segmentation is predictable for rule authors (the HMM only regroups runs of single characters, so
keyword boundaries do not depend on it).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import jieba

jieba.setLogLevel(logging.WARNING)

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None
_added: set[str] = set()
_dictionaries: set[Path] = set()


def tokenizer() -> jieba.Tokenizer:
    """The process-wide tokenizer, loaded once."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                tok = jieba.Tokenizer()
                tok.initialize()
                _tokenizer = tok
    return _tokenizer


def add_words(words: Iterable[str]) -> None:
    """Make every word a single token (idempotent, thread-safe)."""
    tok = tokenizer()
    with _lock:
        for word in words:
            if word in _added or not word.strip():
                continue
            tok.add_word(word, freq=tok.suggest_freq(word, tune=False))
            _added.add(word)


def load_dictionary(path: Path) -> None:
    """Load a jieba user dictionary file (``word [freq] [tag]`` per line) once per process."""
    resolved = path.resolve()
    tok = tokenizer()
    with _lock:
        if resolved in _dictionaries:
            return
        tok.load_userdict(str(resolved))
        _dictionaries.add(resolved)


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


_cut: Callable[[str], list[str]] | None = None


def segment(text: str) -> Tokens:
    """Cut normalized text into tokens."""
    global _cut
    if _cut is None:
        _cut = _fast_cut(tokenizer())
    words = tuple(_cut(text))
    starts: list[int] = []
    pos = 0
    for w in words:
        starts.append(pos)
        pos += len(w)
    return Tokens(words, tuple(starts))
