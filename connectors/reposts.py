"""Reposts and quotes in posts: the ``//@user:`` chains of Weibo and the post links a text quotes.

A Weibo repost carries the whole chain in its text: ``my words//@B:B's words//@A:A's words``; the
last segment is the earliest words of the chain, so reposts of the same post share it whatever
was added on the way. :func:`repost_key` names that root (author and normalised words) as a
thread key. :func:`quoted_refs` lists the posts a text links to, as the reference ids the
connectors give those posts (``twitter:<id>``, ``reddit:t3_<id>``, or the link itself for feed
entries), so the ticket stage can put a quote on the thread of the stored original.

A chain quotes its posts by their words, not by a link: ``C//@B:b//@A:a`` repeats B's post
(``b//@A:a``) and A's post (``a``) verbatim. :func:`text_key` is the digest of a post's
normalised text (every stored message gets one, indexed), and :func:`chain_refs` the keys of the
posts a chain quotes, nearest first, as ``text:<key>`` references: the ticket stage finds the
stored original - and the stored reposts in between - by one indexed lookup, in any source.
The other way round, :func:`root_key` (the author and words of a chain's earliest post, also
stored and indexed) lets an original that arrives after its reposts find them - only the author's
own post, not a copy of the same words by another user.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

# "//@name:" - feed text made from HTML writes a mention link after the name: "//@name <url>:"
_CHAIN = re.compile(r"//\s*@([^:：\s/<]{1,40})\s*(?:<[^<>\s]*>\s*)?[:：]")
_MENTION = re.compile(r"@[^:：\s/<]{1,40}\s*<[^<>\s]*>")  # a user's profile link, not a quoted post
_SPACE = re.compile(r"\s+")
_URL = re.compile(r"https?://[^\s<>\"'（）()\[\]{}，。！？]+", re.IGNORECASE)
_TWEET = re.compile(r"^https?://(?:www\.|mobile\.)?(?:twitter|x)\.com/[^/]+(?:/web)?/status(?:es)?/(\d+)", re.I)
_REDDIT = re.compile(r"^https?://(?:www\.|old\.|new\.)?reddit\.com/r/[^/]+/comments/([a-z0-9]+)", re.I)
_TRAILING = ".,;:!?"
_NOISE = re.compile(r"\s+|<[^<>\s]*>")  # whitespace and the <url> a feed writes after a mention
TEXT_REF = "text:"
TEXT_KEY_MIN = 8  # normalised characters: "转发微博" or "支持" would join unrelated posts
TEXT_KEY_MAX = 2000  # longer texts (mail) are not quoted in chains; not worth hashing
_CACHED_CHARS = 600  # posts; 4,096 cached mail bodies (the key is the text) held ~16 MB alive
_T = TypeVar("_T")


def _posts_cached(function: Callable[[str], _T]) -> Callable[[str], _T]:
    """Remember the answers for short texts (the store and the ticket stage ask for the same
    posts); a long text is computed each time, so the cache never keeps mail bodies alive."""
    cached = functools.lru_cache(maxsize=4096)(function)

    @functools.wraps(function)
    def call(text: str) -> _T:
        return cached(text) if len(text) <= _CACHED_CHARS else function(text)

    return call


def repost_root(text: str) -> tuple[str, str] | None:
    """``(author, words)`` of the earliest segment of a ``//@user:`` chain; None without one."""
    parts = _CHAIN.split(text)
    if len(parts) < 3:
        return None
    words = _SPACE.sub(" ", parts[-1]).strip().casefold()
    return (parts[-2].strip(), words) if words else None


def repost_key(text: str) -> str:
    """``repost:<digest>`` of a chain's root, "" for a text that is not a repost chain."""
    root = repost_root(text)
    if root is None:
        return ""
    digest = hashlib.sha1("\n".join(root).encode(), usedforsecurity=False).hexdigest()
    return f"repost:{digest}"


def post_ref(url: str) -> str:
    """The reference id of the post behind ``url``: tweet and Reddit links by id, others as is."""
    url = url.split("#", 1)[0].rstrip(_TRAILING)
    tweet = _TWEET.match(url)
    if tweet:
        return f"twitter:{tweet.group(1)}"
    reddit = _REDDIT.match(url)
    if reddit:
        return f"reddit:t3_{reddit.group(1).lower()}"
    return url


def quoted_refs(text: str, *, own: str = "") -> tuple[str, ...]:
    """Reference ids of the posts ``text`` links to, in order, without ``own`` (the post itself)."""
    refs = dict.fromkeys(post_ref(m.group(0)) for m in _URL.finditer(_MENTION.sub(" ", text)))
    refs.pop(own, None)
    refs.pop("", None)
    return tuple(refs)


@functools.cache
def _compatibility() -> tuple[re.Pattern[str], dict[str, str]]:
    """The Basic Multilingual Plane characters NFKC changes, each with its NFKC form (built once,
    ~15 ms): fullwidth punctuation, "…", "℃" ... in almost every Chinese post and mail."""
    table: dict[str, str] = {}
    for code in range(0x10000):
        if not 0xD800 <= code <= 0xDFFF:  # surrogates
            char = chr(code)
            if (normal := unicodedata.normalize("NFKC", char)) != char:
                table[char] = normal
    ranges: list[list[int]] = []
    for code in sorted(map(ord, table)):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    members = "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in ranges)
    return re.compile(f"[{members}]"), table


def _nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, about 4x faster on Chinese text: each character NFKC
    changes is replaced by its own NFKC form, which keeps the text's NFKD (so its NFKC); when the
    result is NFKC already - unless a combining mark or a character outside the table meets it -
    it is the answer, else it is normalised as a whole."""
    if unicodedata.is_normalized("NFKC", text):
        return text
    pattern, table = _compatibility()
    mapped = pattern.sub(lambda match: table[match.group()], text)
    return mapped if unicodedata.is_normalized("NFKC", mapped) else unicodedata.normalize("NFKC", mapped)


def _words(text: str) -> str:
    """A segment's words as they compare: NFKC, case-folded, without links and whitespace."""
    text = _nfkc(text)
    if "://" in text or "<" in text:
        text = _NOISE.sub("", _URL.sub("", text))
    return "".join(text.split()).casefold()


def _canonical(parts: list[str]) -> str:
    """``own//@u1:w1//@u2:w2`` from ``_CHAIN.split`` parts, each piece normalised."""
    out = [_words(parts[0])]
    for index in range(1, len(parts) - 1, 2):
        out.append(f"//@{parts[index].strip().casefold()}:{_words(parts[index + 1])}")
    return "".join(out)


def _digest(canonical: str) -> str:
    if not TEXT_KEY_MIN <= len(canonical) <= TEXT_KEY_MAX:
        return ""
    return hashlib.sha1(canonical.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class PostKeys:
    """The repost keys of one post, from one pass over its text (:func:`post_keys`)."""

    text_key: str
    """:func:`text_key`"""
    root_key: str
    """:func:`root_key`"""
    owner_keys: tuple[str, ...]
    """:func:`owner_keys` for the post's authors"""

    def __reduce__(self) -> tuple[type[PostKeys], tuple[str, str, tuple[str, ...]]]:
        # computed in the analysis workers and pickled back (monitor.pipeline): the constructor is
        # ~3x cheaper than a frozen slots dataclass's own unpickling (a loop over ``fields()``)
        return (PostKeys, (self.text_key, self.root_key, self.owner_keys))


@_posts_cached
def _keys(text: str) -> tuple[str, str, str | None]:
    """``(text_key, root_key, owner words)`` of a text, each segment normalised once (NFKC of a
    long mail is most of the cost); owner words: None for a repost chain, which has no owner key."""
    if len(text) > TEXT_KEY_MAX * 2:
        return "", "", None
    parts = _CHAIN.split(text) if "@" in text else [text]
    words = [_words(parts[0])]
    out = [words[0]]
    for index in range(1, len(parts) - 1, 2):
        words.append(_words(parts[index + 1]))
        out.append(f"//@{parts[index].strip().casefold()}:{words[-1]}")
    if len(parts) >= 3:
        return _digest("".join(out)), _owned(parts[-2], words[-1]), None
    return _digest(out[0]), "", words[0]


def post_keys(text: str, authors: Iterable[str]) -> PostKeys:
    """:func:`text_key`, :func:`root_key` and :func:`owner_keys` at once (the text is normalised
    once for all three)."""
    key, root, words = _keys(text)
    return PostKeys(key, root, _owner_keys(words, authors))


def text_key(text: str) -> str:
    """The digest other posts quote this one by (its whole normalised text, chain included);
    "" for a text too short to tell posts apart or too long to be a post."""
    return _keys(text)[0]


@_posts_cached
def chain_refs(text: str) -> tuple[str, ...]:
    """``text:<key>`` of every post a ``//@user:`` chain quotes, nearest (the post reposted) first."""
    if len(text) > TEXT_KEY_MAX * 2 or "@" not in text:
        return ()
    parts = _CHAIN.split(text)
    refs = [_digest(_canonical(parts[start:])) for start in range(2, len(parts), 2)]
    return tuple(dict.fromkeys(TEXT_REF + key for key in refs if key))


def root_key(text: str) -> str:
    """The key of the earliest post a ``//@user:`` chain quotes: that post's author and words,
    so only the author's own post finds the chain (:func:`owner_keys`), not a copy of the same
    words by someone else; "" for a text without a chain."""
    return _keys(text)[1]


def owner_keys(text: str, authors: Iterable[str]) -> tuple[str, ...]:
    """The :func:`root_key` a chain quoting this post (``text`` by one of ``authors``: display
    name, id) would have; () for a text that is itself a repost."""
    return _owner_keys(_keys(text)[2], authors)


def _owner_keys(words: str | None, authors: Iterable[str]) -> tuple[str, ...]:
    if words is None:
        return ()
    keys = (_owned(author, words) for author in dict.fromkeys(a for a in authors if a.strip()))
    return tuple(key for key in keys if key)


def _owned(author: str, words: str) -> str:
    if not TEXT_KEY_MIN <= len(words) <= TEXT_KEY_MAX:
        return ""
    return hashlib.sha1(f"{author.strip().casefold()}\n{words}".encode(), usedforsecurity=False).hexdigest()
