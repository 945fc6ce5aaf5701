"""Intent of a sentence: is the writer asking for information?

"投诉箱在哪里？" and "请问投诉电话是多少" mention a complaint word while asking where or how to do
something; "为什么还不处理我的投诉？" and "怎么还没修好，我要投诉！" are complaints phrased as
questions. A rule with ``unless_intent: [question]`` ignores keyword occurrences inside an
information-seeking sentence, so the first two stay calm and the last two escalate.

A sentence (delimited by ``。！？!?`` and line breaks, on the normalized text) is an information
question when

1. it has no complaint marker (``为什么``, ``凭什么``, ``还没``, ``还不``, ``到底``, ``难道``,
   ``怎么又``, ``why``, ``still``...), no demand (``我要``, ``我会``, ``必须``, ``I want to``...)
   and does not end in ``!``; and
2. it has an explicit asking phrase (``请问``, ``想问``, ``问一下``, ``请教``), or an interrogative
   (``在哪``, ``怎么``, ``如何``, ``能不能``, ``是否``, ``多少``, ``where``, ``how``...) and ends in
   a question mark or a question particle (``吗``, ``呢``).

The markers are substrings of the normalized (simplified, lower-case, half-width) text, so one
list serves both scripts; nothing here segments text again.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Final, Literal

Intent = Literal["question", "statement"]

_SENTENCE_END: Final = re.compile(r"[。!?\n]+")

COMPLAINT_MARKERS: Final = (
    "为什么", "为啥", "凭什么", "干嘛", "干什么吃", "还没", "还不", "还是没", "到底", "究竟", "难道",
    "怎么又", "怎么还", "怎么老", "怎么总", "怎么这么", "怎么能", "怎么可以", "搞什么", "有没有搞错",
    "居然", "竟然", "一直", "多少次", "几次了", "到现在", "点解", "仲未", "仲唔",
    "等了", "多次", "好几次", "这么久", "这么慢", "太慢", "太差", "一再", "反复", "依然", "仍然", "总是",
    "老是", "又",
)
"""Phrases that turn a question into a complaint (substrings of the normalized sentence)."""

_EN_COMPLAINT: Final = re.compile(r"\b(?:why|still|again|seriously|how come|what the|ever going to)\b")
"""Phrases that turn a question into a complaint (substrings of the normalized sentence)."""

DEMAND_MARKERS: Final = (
    "我要", "我会", "我想要", "我一定", "必须", "一定要", "要求", "我就", "我得",
)

_EN_DEMAND: Final = re.compile(r"\bi (?:want to|will|demand|am going to)\b|\bi'(?:ll|m going to)\b")

ASKING: Final = ("请问", "想问", "问一下", "问下", "请教", "麻烦问", "打听一下", "想咨询", "咨询一下", "想了解")

INTERROGATIVES: Final = (
    "在哪", "哪里", "哪儿", "哪个", "哪些", "怎么", "如何", "怎样", "能不能", "可不可以", "能否", "可否",
    "是否", "多少", "几点", "几号", "什么时候", "多久", "有没有", "是什么", "是不是", "边度", "点样", "几时",
    "可以", "会不会", "要不要", "需不需要", "需要",
)

_EN_INTERROGATIVE: Final = re.compile(
    r"\b(?:where|how|what|which|when|who|can (?:i|we|you)|could|is there|are there|do you|does|should)\b"
)

_QUESTION_END: Final = re.compile(r"(?:[?吗呢嘛]|[吗呢]\s*[?]*)\s*$")


def sentence_at(text: str, pos: int) -> tuple[int, int]:
    """The sentence of ``text`` containing offset ``pos``, terminator included: ``(start, end)``."""
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if m.end() <= pos:
            start = m.end()
            continue
        return start, m.end()
    return start, len(text)


def sentence_ends(text: str) -> list[int]:
    """Where each sentence of ``text`` ends (terminator included), in order: one regex pass, so that
    :func:`sentence_in` answers many :func:`sentence_at` questions about one text by bisection."""
    return [m.end() for m in _SENTENCE_END.finditer(text)]


def sentence_in(ends: list[int], length: int, pos: int) -> tuple[int, int]:
    """:func:`sentence_at` for a text of ``length`` characters whose :func:`sentence_ends` are ``ends``."""
    k = bisect_right(ends, pos)  # the first sentence that ends after pos
    return (ends[k - 1] if k else 0), (ends[k] if k < len(ends) else length)


def sentences(text: str) -> list[tuple[int, int]]:
    """Every sentence of ``text`` as ``(start, end)``, terminators included; blank ones skipped."""
    out: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if text[start : m.end()].strip():
            out.append((start, m.end()))
        start = m.end()
    if text[start:].strip():
        out.append((start, len(text)))
    return out


def _any_of(markers: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern that finds any of the (non-empty) literal markers: ``pattern.search(s)`` is
    ``any(m in s for m in markers)`` in one scan."""
    if not all(markers):
        raise ValueError("markers must not be empty")
    return re.compile("|".join(map(re.escape, markers)))


_STATEMENT_MARKERS: Final = _any_of(COMPLAINT_MARKERS + DEMAND_MARKERS)
_ASKING: Final = _any_of(ASKING)
_INTERROGATIVES: Final = _any_of(INTERROGATIVES)


def intent_of(sentence: str) -> Intent:
    """``question`` for an information-seeking sentence, else ``statement``."""
    s = sentence.strip()
    if not s or s.endswith("!"):
        return "statement"
    if _STATEMENT_MARKERS.search(s):
        return "statement"
    if _EN_COMPLAINT.search(s) or _EN_DEMAND.search(s):
        return "statement"
    if _ASKING.search(s):
        return "question"
    if _QUESTION_END.search(s) and (_INTERROGATIVES.search(s) or _EN_INTERROGATIVE.search(s) is not None):
        return "question"
    return "statement"
