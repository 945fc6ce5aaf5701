"""What a scorer reads of a message: the author's own words, their emoticons, and whether the text is
a polite service reply.

* :func:`~.social.split_post` picks the author's own words (repost chains, ``回复@…:``, URLs,
  @mentions and hashtags removed; a bare repost falls back to the quoted text at half weight).
* Emoticons in the author's part (``[哈哈]``, ``[怒]``, emoji, ``:)``) add their lexicon weight;
  sarcasm-prone ones (``[doge]``, ``[微笑]``, 🙂) damp the positive words next to them.
* Polite service formulas (``您好``, ``给您带来不便``, ``已为您加急处理``, ``sorry for the
  inconvenience``) are cut out of the scored text: they are courtesy, not the writer's feeling.
  A text that contains one is an agent's reply, and its score is shrunk by ``AGENT_DAMP`` so that it
  lands in the neutral band unless what is left is very strong.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import ahocorasick

from monitor.analysis.sentiment.social import (
    CLAUSE_BREAK,
    Post,
    Span,
    clip_tokens,
    plain,
    split_post,
    subtract,
)

if TYPE_CHECKING:
    from monitor.analysis.sentiment.lexicon import Lexicon

AGENT_DAMP: Final = 0.2
_BRACKETED = r"\[[^\[\]\n]{1,10}\]"
_EMOJI_CLASS = "\u2600-\u27bf\U0001f000-\U0001faff"
_EMOJI = re.compile(f"[{_EMOJI_CLASS}]")


@dataclass(frozen=True, slots=True)
class Reading:
    """The part of a text a scorer looks at, plus what surrounds it."""

    text: str
    tokens: Sequence[str]
    emoticons: float = 0.0
    sarcasm: bool = False
    agent: bool = False
    weight: float = 1.0

    def adjust(self, score: float) -> float:
        """Apply the repost fallback weight and the agent-reply damping to a final score."""
        return score * self.weight * (AGENT_DAMP if self.agent else 1.0)


class Reader:
    """Builds :class:`Reading` objects for one lexicon (its emoticon table and service formulas)."""

    def __init__(self, lexicon: Lexicon) -> None:
        table = lexicon.emoticons or {}
        self._emoticons = table
        self._sarcasm = lexicon.sarcasm
        symbols = sorted((e for e in table if not e.startswith("[") and len(e) > 1), key=len, reverse=True)
        # first characters the emoji ranges already hold are left out: Python's regex engine keeps
        # a set's characters beyond the Basic Multilingual Plane as a list and compares every
        # character of the text with each of them while it looks for a start (0.1 ms per long mail)
        starts = sorted(
            c for c in frozenset(e[0] for e in table) | {"["} | {e[0] for e in symbols} if not _EMOJI.match(c)
        )
        first = f"[{''.join(map(re.escape, starts))}{_EMOJI_CLASS}]"
        self._emoticon_start = re.compile(first)
        # ``\[…\]`` | each symbol (longest first) | an emoji, written as "one of their first characters,
        # then the rest of whichever alternative starts with it": the same matches as the plain
        # alternation, but a pattern that starts with a character set is scanned in C
        rests = [f"(?<=\\[){_BRACKETED[2:]}", *map(_symbol_rest, symbols), f"(?<=[{_EMOJI_CLASS}])"]
        self._emoticon_re = re.compile(f"{first}(?:{'|'.join(rests)})")
        self._phrases = _automaton(lexicon.service, lexicon.courtesy)

    def __call__(self, text: str, tokens: Sequence[str]) -> Reading:
        post = split_post(text)
        spans = post.spans
        cuts, agent = _find(self._phrases, text, spans)
        if cuts:
            spans = tuple(_without(spans, cuts))
        emoticons, sarcasm, marks = self._emoticons_in(text, post)
        if plain(text) and not cuts and not marks:
            return Reading(text, tokens, emoticons, sarcasm)
        own = CLAUSE_BREAK.join(text[a:b] for a, b in spans)
        kept = clip_tokens(tokens, _without(spans, marks))
        return Reading(own, kept, emoticons, sarcasm, agent, post.weight)

    def _emoticons_in(self, text: str, post: Post) -> tuple[float, bool, list[Span]]:
        """Sum of emoticon weights in the post's scope, sarcasm flag, and the emoticons' spans."""
        a, b = post.scope
        if not self._emoticon_start.search(text, a, b):  # no character an emoticon starts with
            return 0.0, False, []
        total = 0.0
        sarcasm = False
        marks: list[Span] = []
        for m in self._emoticon_re.finditer(text, a, b):
            key = m.group().replace("\ufe0f", "")
            marks.append(m.span())
            total += self._emoticons.get(key, 0.0)
            sarcasm = sarcasm or key in self._sarcasm
        return total, sarcasm, marks


def _symbol(emoticon: str) -> str:
    """Regex for a text emoticon; letters at its edges must not touch other letters (``tat`` is
    not found in ``status``)."""
    head = r"(?<![a-z0-9])" if emoticon[0].isalnum() else ""
    tail = r"(?![a-z0-9])" if emoticon[-1].isalnum() else ""
    return head + re.escape(emoticon) + tail


def _symbol_rest(emoticon: str) -> str:
    """:func:`_symbol` after its first character was consumed: that character must be the
    emoticon's (and, for a letter, not follow a letter or digit), then the rest of it."""
    head = re.escape(emoticon[0])
    guard = f"(?<![a-z0-9]{head})" if emoticon[0].isalnum() else ""
    tail = r"(?![a-z0-9])" if emoticon[-1].isalnum() else ""
    return f"(?<={head}){guard}{re.escape(emoticon[1:])}{tail}"


def _automaton(service: frozenset[str], courtesy: frozenset[str]) -> ahocorasick.Automaton | None:
    """One Aho-Corasick automaton over the service formulas (value True) and courtesy phrases."""
    if not service and not courtesy:
        return None
    automaton = ahocorasick.Automaton()
    for phrase in courtesy:
        automaton.add_word(phrase, (len(phrase), False))
    for phrase in service:
        automaton.add_word(phrase, (len(phrase), True))
    automaton.make_automaton()
    return automaton


def _find(
    automaton: ahocorasick.Automaton | None, text: str, spans: Sequence[Span]
) -> tuple[list[Span], bool]:
    """Spans of the phrases found inside ``spans`` and whether one was a service formula.

    ASCII phrases match whole words only (``hi`` is not found in ``this``)."""
    cuts: list[Span] = []
    agent = False
    if automaton is None:
        return cuts, agent
    for a, b in spans:
        for end, (length, service) in automaton.iter(text, a, b):
            start = end + 1 - length
            if text[start].isascii() and not _word_bounded(text, start, end + 1):
                continue
            cuts.append((start, end + 1))
            agent = agent or service
    return cuts, agent


def _word_bounded(text: str, start: int, end: int) -> bool:
    return (start == 0 or not text[start - 1].isalnum()) and (end >= len(text) or not text[end].isalnum())


def _without(spans: Sequence[Span], cuts: Sequence[Span]) -> list[Span]:
    """``spans`` minus ``cuts`` (both sorted or not; the result is sorted)."""
    ordered = sorted(cuts)
    return [piece for span in spans for piece in subtract(span, ordered)]
