"""The repost keys' fast NFKC gives exactly ``unicodedata.normalize("NFKC", ...)``: a text key must
not change with the way it is computed (stored keys are looked up by later posts)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.reposts import _nfkc, text_key

# fullwidth forms, CJK punctuation, combining marks, Hangul jamo and syllables, compatibility
# ideographs, letterlike symbols, characters that decompose to a combining mark, and outside the BMP
_CHARS = st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0x24F),
    st.characters(min_codepoint=0x300, max_codepoint=0x36F),
    st.characters(min_codepoint=0x1100, max_codepoint=0x11FF),
    st.characters(min_codepoint=0xAC00, max_codepoint=0xAC40),
    st.characters(min_codepoint=0x2000, max_codepoint=0x21FF),
    st.characters(min_codepoint=0x3000, max_codepoint=0x30FF),
    st.characters(min_codepoint=0xF900, max_codepoint=0xFAFF),
    st.characters(min_codepoint=0xFF00, max_codepoint=0xFFEF),
    st.sampled_from(["\u0f73", "\u0344", "\u0f75", "\u1e9b", "\u2126", "\u212b", "\U0001d400", "\U0002f800"]),
)


@settings(max_examples=3000, deadline=None)
@given(st.text(_CHARS, max_size=24))
def test_fast_nfkc_is_nfkc(text: str) -> None:
    assert _nfkc(text) == unicodedata.normalize("NFKC", text)


@pytest.mark.parametrize(
    "text",
    [
        "快递三天了还没到，客服说（再等等）……温度 30℃！",
        "Ａ\u0301 fullwidth A then a combining accent composes",
        "\u1100\u1161\u11a8 Hangul jamo compose to a syllable",
        "e\u0301\u0327 marks reorder",
        "\U0001d400\U0001d401 mathematical letters outside the BMP",
        "already normalised text",
    ],
    ids=["chinese-punctuation", "fullwidth-combining", "hangul", "reorder", "astral", "plain"],
)
def test_fast_nfkc_cases(text: str) -> None:
    assert _nfkc(text) == unicodedata.normalize("NFKC", text)


def test_text_key_sees_fullwidth_and_ascii_alike() -> None:
    assert text_key("退款拖了一个月，ABC！") == text_key("退款拖了一个月,ＡＢＣ!") != ""
