"""Which part of a social-media post to score: the author's own words, without the furniture.

A Weibo repost reads ``我的话 //@B: B的话 //@C: C的话``; a reply starts ``回复@A: …``; posts carry
URLs, @mentions, ``#topic#`` tags and bracketed emoticons (``[怒]``, ``[哈哈]``). Only the author's
own words say what the author feels, so :func:`split_post` returns the spans of the normalized
text that are scored (:class:`Post`):

* the reply prefix ``回复@name:`` is dropped, and everything from the first ``//@name:`` on is the
  quoted chain;
* URLs, @mentions, hashtags and ``[emoticon]`` brackets are cut out of the own words (emoticons are
  scored separately, from the lexicon's ``emoticons`` table);
* a bare repost (own words empty or just ``转发微博``/``repost``, and no emoticon) falls back to the
  quoted chain, and when there is none, to the hashtag text, with ``weight`` 0.5: passing a post
  on without comment endorses it, but weaker than saying it.

The spans index the text the scorer was given, so the engine's tokens can be clipped to them
(:func:`clip_tokens`) instead of segmenting again.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Final

FALLBACK_WEIGHT: Final = 0.5
CLAUSE_BREAK: Final = "\n"

_REPLY = re.compile(r"^\s*(?:回复|reply)\s*@[^:\s]{1,30}\s*:\s*")
_REPOST = re.compile(r"//\s*@[^:/\n]{1,30}?:")
_URL = re.compile(r"(?:https?://|www\.)[!-~]+|o?网页链接")  # Weibo shows a link as "O网页链接"
_MENTION = re.compile(r"@[\w\-]{1,30}")
_HASHTAG = re.compile(r"#([^#\n]{1,40})#")
_BRACKET = re.compile(r"\[[^\[\]\n]{1,10}\]")
_BARE_REPOST = re.compile(r"^(?:转发微博|转发|repost|rt|分享图片|分享视频|分享单曲)$")
_CONTENT = re.compile(r"[^\W_]")
_EMOJI = re.compile("[\u2600-\u27bf\U0001f000-\U0001faff]")

Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Post:
    """Spans of the text to score and their weight (1.0; 0.5 when falling back to quoted text).

    ``scope`` is the raw region (with brackets and emoji) where emoticons are counted.
    """

    spans: tuple[Span, ...]
    scope: Span
    weight: float = 1.0

    def text(self, value: str) -> str:
        return CLAUSE_BREAK.join(value[a:b] for a, b in self.spans)


def subtract(span: Span, cuts: Sequence[Span]) -> list[Span]:
    """``span`` minus the (sorted) ``cuts``, keeping non-empty pieces."""
    out: list[Span] = []
    pos, end = span
    for a, b in cuts:
        if b <= pos or a >= end:
            continue
        if a > pos:
            out.append((pos, a))
        pos = max(pos, b)
    if pos < end:
        out.append((pos, end))
    return out


def _cuts(value: str, start: int, end: int, *, keep_tags: bool) -> list[Span]:
    """Spans inside ``[start, end)`` that are furniture: URLs, mentions, brackets (and hashtags)."""
    patterns = (_URL, _MENTION, _BRACKET) if keep_tags else (_URL, _MENTION, _BRACKET, _HASHTAG)
    found = [m.span() for p in patterns for m in p.finditer(value, start, end)]
    return sorted(found)


def _has_words(value: str, spans: Sequence[Span]) -> bool:
    text = "".join(value[a:b] for a, b in spans).strip()
    return bool(_CONTENT.search(text)) and not _BARE_REPOST.match(text)


def _quoted(value: str, markers: Sequence[re.Match[str]]) -> list[Span]:
    """The texts of a ``//@a: x //@b: y`` chain (without the ``//@name:`` markers)."""
    spans: list[Span] = []
    for i, m in enumerate(markers):
        end = markers[i + 1].start() if i + 1 < len(markers) else len(value)
        spans.extend(subtract((m.end(), end), _cuts(value, m.end(), end, keep_tags=True)))
    return spans


def plain(value: str) -> bool:
    """True when ``value`` has no social structure at all (the common, cheap case)."""
    return (
        "@" not in value
        and "#" not in value
        and "[" not in value
        and "http" not in value
        and "www." not in value
        and "网页链接" not in value
    )


def split_post(value: str) -> Post:
    """The spans of ``value`` that carry the author's own words (see the module doc)."""
    if plain(value):
        return Post(((0, len(value)),), (0, len(value)))
    reply = _REPLY.match(value)
    start = reply.end() if reply else 0
    markers = list(_REPOST.finditer(value, start))
    end = markers[0].start() if markers else len(value)
    own = subtract((start, end), _cuts(value, start, end, keep_tags=False))
    if _has_words(value, own):
        return Post(tuple(own), (start, end))
    if _BRACKET.search(value, start, end) or _EMOJI.search(value, start, end):
        return Post((), (start, end))  # emoticons only: they speak for the author
    quoted = _quoted(value, markers)
    if quoted and _has_words(value, quoted):
        return Post(tuple(quoted), (end, len(value)), FALLBACK_WEIGHT)
    tags = [m.span(1) for m in _HASHTAG.finditer(value, start, end)]
    if tags:
        return Post(tuple(tags), (start, end), FALLBACK_WEIGHT)
    return Post((), (start, start))


def clip_tokens(tokens: Sequence[str], spans: Sequence[Span]) -> list[str]:
    """The parts of ``tokens`` (which concatenate to the text) that fall inside ``spans``.

    A token cut by a span boundary keeps its inside part; consecutive spans are separated by a
    clause break so that negation and degree never reach across a removed piece. Runs of tokens
    wholly inside one span are copied as a slice (a long mail is a few spans of a thousand tokens).
    """
    out: list[str] = []
    if not spans:
        return out
    ends = list(accumulate(map(len, tokens)))
    count = len(spans)
    si = 0
    pos = 0
    i = 0
    while i < len(tokens):
        token = tokens[i]
        a, b = pos, ends[i]
        while si < count and spans[si][1] <= a:
            si += 1
            if si < count:
                out.append(CLAUSE_BREAK)
        if si >= count:
            break
        s, e = spans[si]
        if s <= a and b < e:  # tokens i.. that end before the span does: whole, no break between
            upto = bisect_left(ends, e, i)
            run = tokens[i:upto]
            out.extend(run if "" not in run else filter(None, run))  # an empty token is nothing inside
            pos, i = ends[upto - 1], upto
            continue
        j = si
        while j < count and spans[j][0] < b:
            s, e = spans[j]
            lo, hi = max(a, s), min(b, e)
            if lo < hi:
                out.append(token if (lo, hi) == (a, b) else token[lo - a : hi - a])
            if e > b:
                break
            j += 1
        pos, i = b, i + 1
    return out
