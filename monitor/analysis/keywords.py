"""One-pass keyword search: every keyword of every rule in one Aho-Corasick automaton.

The automaton runs over *normalized* text and reports every occurrence of every keyword in a
single scan, whatever the number of rules. Whether an occurrence counts (whole token or substring)
is decided afterwards by the rule that uses it, against the token boundaries of the message.

pyahocorasick looks a node's next character up by scanning the node's children in the order they
were added; at the root (hundreds of first characters) that scan is most of the cost of a long
text, since most characters of a message start no keyword. A long text is therefore searched as
a copy in which every character that occurs in no keyword is replaced by one filler character,
the root's first child: no occurrence can include such a character, so the copy has the same
occurrences at the same offsets, and the root finds the filler at once.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import ahocorasick
import numpy as np
import numpy.typing as npt

Span = tuple[int, int]
LONG = 200
"""Characters from which mapping the text to the filler pays for its array operations."""
_UTF32 = "utf-32-le" if sys.byteorder == "little" else "utf-32-be"
_BMP = 0x10000


class KeywordIndex:
    """Finds all occurrences of a fixed set of (already normalized) keywords."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words: frozenset[str] = frozenset(w for w in words if w)
        self._automaton: ahocorasick.Automaton | None = None
        if not self.words:
            return
        alphabet = {ord(c) for w in self.words for c in w}
        spare = (c for c in range(0xE000, 0xF900) if c not in alphabet)  # private use: never a keyword's
        self._filler, blocker = next(spare), next(spare)
        automaton = ahocorasick.Automaton()
        # added first, so the root's first child is the filler; it never matches (the blocker is
        # not in any copy's alphabet, and an original text that holds both is skipped below)
        automaton.add_word(chr(self._filler) + chr(blocker), None)
        for word in sorted(self.words):
            automaton.add_word(word, word)
        automaton.make_automaton()
        self._automaton = automaton
        table = np.full(_BMP, self._filler, dtype=np.uint32)
        bmp = np.array(sorted(c for c in alphabet if c < _BMP), dtype=np.int64)
        table[bmp] = bmp
        self._table = table
        self._astral = np.array(sorted(c for c in alphabet if c >= _BMP), dtype=np.uint32)

    def find(self, text: str) -> dict[str, list[Span]]:
        """Every occurrence of every keyword, overlapping ones included: ``word -> [(start, end)]``."""
        found: dict[str, list[Span]] = {}
        if self._automaton is None or not text:
            return found
        scanned = self._copy(text) if len(text) >= LONG else text
        for end, word in self._automaton.iter(scanned):
            if word is not None:
                found.setdefault(word, []).append((end - len(word) + 1, end + 1))
        return found

    def _copy(self, text: str) -> str:
        """``text`` with every character that occurs in no keyword replaced by the filler (same
        length: one code point for one, lone surrogates included)."""
        points: npt.NDArray[np.uint32] = np.frombuffer(text.encode(_UTF32, "surrogatepass"), dtype=np.uint32)
        mapped = self._table[np.minimum(points, _BMP - 1)]
        astral = points >= _BMP
        if astral.any():
            kept = astral & np.isin(points, self._astral)
            mapped[astral] = np.where(kept[astral], points[astral], self._filler)
        copy: str = mapped.tobytes().decode(_UTF32, "surrogatepass")
        return copy
