"""One-pass keyword search: every keyword of every rule in one Aho-Corasick automaton.

The automaton runs over *normalized* text and reports every occurrence of every keyword in a
single scan, whatever the number of rules. Whether an occurrence counts (whole token or substring)
is decided afterwards by the rule that uses it, against the token boundaries of the message.
"""

from __future__ import annotations

from collections.abc import Iterable

import ahocorasick

Span = tuple[int, int]


class KeywordIndex:
    """Finds all occurrences of a fixed set of (already normalized) keywords."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words: frozenset[str] = frozenset(w for w in words if w)
        self._automaton: ahocorasick.Automaton | None = None
        if self.words:
            automaton = ahocorasick.Automaton()
            for word in sorted(self.words):
                automaton.add_word(word, word)
            automaton.make_automaton()
            self._automaton = automaton

    def find(self, text: str) -> dict[str, list[Span]]:
        """Every occurrence of every keyword, overlapping ones included: ``word -> [(start, end)]``."""
        found: dict[str, list[Span]] = {}
        if self._automaton is None or not text:
            return found
        for end, word in self._automaton.iter(text):
            found.setdefault(word, []).append((end - len(word) + 1, end + 1))
        return found
