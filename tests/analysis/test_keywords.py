"""The one-pass keyword search finds exactly the occurrences a plain substring scan finds."""

from __future__ import annotations

import random

import pytest

from monitor.analysis.keywords import LONG, KeywordIndex, Span

WORDS = ["投诉", "投诉箱", "诉", "故障", "紧急", "12315", "315", "refund", "fun", "😂", "😂🤣", "a b", "\udcff好"]


def _scan(words: list[str], text: str) -> dict[str, list[Span]]:
    """Every occurrence of every word by ``str.find``, overlapping ones included, ordered by end."""
    found = [(s + len(w), s, w) for w in words for s in range(len(text)) if text.startswith(w, s)]
    out: dict[str, list[Span]] = {}
    for end, start, word in sorted(found, key=lambda f: (f[0], -len(f[2]))):
        out.setdefault(word, []).append((start, end))
    return out


FILLERS = ["的", "了", " ", "x", "\n", "🙂", "\ue000", "\ue001", "\udc80", "投", "故", "1", "3"]


@pytest.mark.parametrize("length", [40, LONG, 5 * LONG], ids=["short", "at-limit", "long"])
def test_find_gives_every_occurrence(length: int) -> None:
    """Short texts are scanned as they are, long ones as a copy with non-keyword characters
    replaced: both give the occurrences of a plain scan, private-use and astral characters too."""
    index = KeywordIndex(WORDS)
    rng = random.Random(length)
    for _ in range(60):
        pieces = [rng.choice(WORDS + FILLERS * 3) for _ in range(length)]
        text = "".join(pieces)[:length]
        found = index.find(text)
        assert {w: sorted(s) for w, s in found.items()} == {w: sorted(s) for w, s in _scan(WORDS, text).items()}


def test_the_fillers_own_pair_is_never_reported() -> None:
    """The automaton's first word (filler + blocker, two private-use characters) never shows up."""
    index = KeywordIndex(["投诉"])
    text = "".join(chr(c) for c in range(0xE000, 0xE010)) + "投诉"
    for probe in (text, text * (LONG // len(text) + 1)):
        assert set(index.find(probe)) == {"投诉"}
