"""Compiled keyword terms: a single keyword, or ``A NEAR/n B`` (proximity in tokens).

Terms are the normalized form of keyword entries in rule YAML; :mod:`monitor.analysis.context`
finds and classifies their occurrences in a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.analysis.schema import MatchMode

NEAR_RE = re.compile(r"^\s*(.+?)\s+NEAR/(\d+)\s+(.+?)\s*$")


@dataclass(frozen=True, slots=True)
class KeywordTerm:
    """A normalized keyword and how it must match.

    ``negated``: ``None`` follows the rule's ``negated`` setting; ``True``/``False`` overrides it
    for this keyword (``{word: 给个说法, negated: include}``).
    """

    word: str
    mode: MatchMode = "token"
    negated: bool | None = None

    @property
    def words(self) -> tuple[str, ...]:
        return (self.word,)


@dataclass(frozen=True, slots=True)
class NearTerm:
    """``A NEAR/n B``: some A and some B with at most ``distance`` tokens between them."""

    left: tuple[str, ...]
    right: tuple[str, ...]
    distance: int
    mode: MatchMode = "token"
    negated: bool | None = None

    @property
    def words(self) -> tuple[str, ...]:
        return self.left + self.right


Term = KeywordTerm | NearTerm


def parse_near(entry: str) -> tuple[list[str], list[str], int] | None:
    """``"律师|律师函 NEAR/5 起诉"`` → (['律师', '律师函'], ['起诉'], 5); ``None`` if not a NEAR term."""
    m = NEAR_RE.match(entry)
    if m is None:
        return None
    left = [w.strip() for w in m.group(1).split("|") if w.strip()]
    right = [w.strip() for w in m.group(3).split("|") if w.strip()]
    return left, right, int(m.group(2))
