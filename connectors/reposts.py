"""Reposts and quotes in posts: the ``//@user:`` chains of Weibo and the post links a text quotes.

A Weibo repost carries the whole chain in its text: ``my words//@B:B's words//@A:A's words``; the
last segment is the earliest words of the chain, so reposts of the same post share it whatever
was added on the way. :func:`repost_key` names that root (author and normalised words) as a
thread key. :func:`quoted_refs` lists the posts a text links to, as the reference ids the
connectors give those posts (``twitter:<id>``, ``reddit:t3_<id>``, or the link itself for feed
entries), so the ticket stage can put a quote on the thread of the stored original.
"""

from __future__ import annotations

import hashlib
import re

# "//@name:" - feed text made from HTML writes a mention link after the name: "//@name <url>:"
_CHAIN = re.compile(r"//\s*@([^:：\s/<]{1,40})\s*(?:<[^<>\s]*>\s*)?[:：]")
_MENTION = re.compile(r"@[^:：\s/<]{1,40}\s*<[^<>\s]*>")  # a user's profile link, not a quoted post
_SPACE = re.compile(r"\s+")
_URL = re.compile(r"https?://[^\s<>\"'（）()\[\]{}，。！？]+", re.IGNORECASE)
_TWEET = re.compile(r"^https?://(?:www\.|mobile\.)?(?:twitter|x)\.com/[^/]+(?:/web)?/status(?:es)?/(\d+)", re.I)
_REDDIT = re.compile(r"^https?://(?:www\.|old\.|new\.)?reddit\.com/r/[^/]+/comments/([a-z0-9]+)", re.I)
_TRAILING = ".,;:!?"


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
