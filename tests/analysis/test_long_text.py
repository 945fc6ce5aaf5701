"""Very long bodies: the head is segmented and scored, keywords are still found anywhere and
judged on the same token boundaries as in a full segmentation."""

from __future__ import annotations

import pytest

from monitor.analysis.engine import load_engine
from monitor.analysis.segment import Segmenter, segment_limited
from tests.analysis.conftest import RULES, message

FILLER = "今天下午我们去了公园散步，天气很好，路上人不多。"
PHRASES = (
    "我要投诉你们的客服态度恶劣",
    "请尽快给我退款",
    "我准备找律师咨询",
    "产品质量太差了",
    "客服一直推诿不处理",
)


def long_text(length: int, at: int, phrase: str) -> str:
    body = (FILLER * (length // len(FILLER) + 1))[:length]
    return body[:at] + phrase + body[at:]


@pytest.mark.parametrize(
    ("length", "at", "phrase"),
    [(30_000, 25_000, p) for p in PHRASES] + [(5_000, 1_200, PHRASES[0]), (5_000, 999, PHRASES[2])],
    ids=[f"far-{i}" for i in range(len(PHRASES))] + ["past-limit", "across-limit"],
)
def test_findings_past_the_limit_are_those_of_a_full_analysis(length: int, at: int, phrase: str) -> None:
    limited, full = load_engine([RULES], max_chars=1_000), load_engine([RULES], max_chars=10**9)
    msg = message(long_text(length, at, phrase))
    got, want = limited(msg), full(msg)
    assert [(f.rule_id, f.matches) for f in got.findings] == [(f.rule_id, f.matches) for f in want.findings]
    assert want.findings  # every phrase fires something: the comparison is not vacuous


def test_limited_tokens_keep_exact_offsets_and_cover_the_text() -> None:
    text = long_text(10_000, 8_000, "退款")
    tokens = segment_limited(Segmenter(["退款"]), text, 1_000, [(8_000, 8_002)])
    assert "".join(tokens.words) == text
    assert all(text[s : s + len(w)] == w for s, w in zip(tokens.starts, tokens.words, strict=True))
    assert "退款" in tokens.words
    assert max(map(len, tokens.words)) > 1_000  # the unsegmented stretches are single tokens
