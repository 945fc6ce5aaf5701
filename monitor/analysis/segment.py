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
import threading
from collections.abc import Iterable
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


def segment(text: str) -> Tokens:
    """Cut normalized text into tokens."""
    words = tuple(tokenizer().lcut(text, HMM=False))
    starts: list[int] = []
    pos = 0
    for w in words:
        starts.append(pos)
        pos += len(w)
    return Tokens(words, tuple(starts))
