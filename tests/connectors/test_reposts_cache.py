"""The repost keys' cache remembers posts, never mail bodies (issue 16: RSS flat in mailbox size).

The cache is keyed by the text itself: 4,096 remembered mail bodies held ~16 MB of text (and as
much again of the UTF-8 copies SQLite's driver caches inside each str) alive after the mail was
stored, so the daemon's RSS grew with the first 4,096 mails of a mailbox.
"""

from __future__ import annotations

import sys

import pytest

from connectors.reposts import TEXT_KEY_MAX, chain_refs, root_key, text_key


def _fresh(text: str) -> str:
    return "".join(list(text))  # a new str object, never an interned or cached one


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("这家店的售后太差了//@小王:同感，退款拖了一个月//@老李:售后太差了，再也不买", True),
        ("我要投诉你们的售后服务，已经打了十几次客服电话都没人处理。" * 60, False),  # a mail body
        ("很长的一封邮件" * (TEXT_KEY_MAX * 2 // 7 + 10), False),  # longer than any key covers
    ],
    ids=["post-is-remembered", "mail-body-is-not", "overlong-text-is-not"],
)
def test_only_short_texts_stay_referenced_by_the_cache(text: str, kept: bool) -> None:
    text = _fresh(text)
    before = sys.getrefcount(text)
    first = (text_key(text), chain_refs(text), root_key(text))
    assert (sys.getrefcount(text) > before) is kept
    assert (text_key(text), chain_refs(text), root_key(text)) == first  # same answers either way
