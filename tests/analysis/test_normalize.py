"""Every normalization step alone, then the whole chain, with offsets back into the original."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.analysis.normalize import (
    BlankLinks,
    CaseFold,
    CollapseSeparators,
    CollapseSpacedDigits,
    Nfkc,
    Normalizer,
    RepairMojibake,
    Step,
    StripInvisible,
    StripPinyinAnnotation,
    Text,
    TraditionalToSimplified,
)

STEP_CASES = [
    (Nfkc(), "ＵＲＧＥＮＴ！１２３", "URGENT!123"),
    (Nfkc(), "投诉", "投诉"),
    (CaseFold(), "Refund NOW", "refund now"),
    (CaseFold(), "STRASSE Straße", "strasse strasse"),
    (StripInvisible(), "投\u200b诉\ufeff", "投诉"),
    (StripInvisible(), "紧\u200d急\u00ad", "紧急"),
    (StripInvisible(), "a\tb\nc", "a\tb\nc"),
    (StripPinyinAnnotation(), "繼續(xù)", "繼續"),
    (StripPinyinAnnotation(), "投訴(sù)", "投訴"),
    (StripPinyinAnnotation(), "投诉(tóu sù)了", "投诉了"),
    (StripPinyinAnnotation(), "投诉(tou2 su4)", "投诉"),
    (StripPinyinAnnotation(), "客服(小王)", "客服(小王)"),
    (StripPinyinAnnotation(), "型号(abc)", "型号(abc)"),
    (StripPinyinAnnotation(), "客服(ok)", "客服(ok)"),
    (TraditionalToSimplified(), "我要投訴你們", "我要投诉你们"),
    (TraditionalToSimplified(), "緊急故障", "紧急故障"),
    (TraditionalToSimplified(), "我要投诉你们", "我要投诉你们"),
    (TraditionalToSimplified(), "refund", "refund"),
    (RepairMojibake(), "投诉".encode().decode("gbk"), "投诉"),
    (RepairMojibake(), "我要投诉".encode().decode("gb18030") + " ok", "我要投诉 ok"),
    (RepairMojibake(), "正常的中文句子", "正常的中文句子"),
    (RepairMojibake(), "café", "café"),
    (CollapseSeparators(), "故 障", "故障"),
    (CollapseSeparators(), "故-障", "故障"),
    (CollapseSeparators(), "故*障", "故障"),
    (CollapseSeparators(), "投 - 诉", "投诉"),
    (CollapseSeparators(), "故.障|了", "故障了"),
    (CollapseSeparators(), "紧急,故障", "紧急,故障"),
    (CollapseSeparators(), "good - bad", "good - bad"),
    (CollapseSpacedDigits(), "3 1 5投诉", "315投诉"),
    (CollapseSpacedDigits(), "去3-1-5曝光", "去315曝光"),
    (CollapseSpacedDigits(), "1 2 3 1 5", "12315"),
    (CollapseSpacedDigits(), "3.15元", "3.15元"),
    (CollapseSpacedDigits(), "2024-1-5", "2024-1-5"),
    (CollapseSpacedDigits(), "138 1234 5678", "138 1234 5678"),
    (CollapseSpacedDigits(), "1.5倍", "1.5倍"),
    (BlankLinks(), "看 https://www.youtube.com/watch?v=1x 好", "看 " + " " * len("https://www.youtube.com/watch?v=1x") + " 好"),
    (BlankLinks(), "@小王 <https://weibo.com/n/小王>:漏水", "@小王 <" + " " * len("https://weibo.com/n/小王") + ">:漏水"),
    (BlankLinks(), "见www.example.com/a，谢谢", "见" + " " * len("www.example.com/a") + "，谢谢"),
    (BlankLinks(), "我要发到youtube上", "我要发到youtube上"),
]


@pytest.mark.parametrize(
    ("step", "original", "expected"), STEP_CASES, ids=[f"{type(s).__name__}:{o}" for s, o, _ in STEP_CASES]
)
def test_step(step: Step, original: str, expected: str) -> None:
    text = step(Text.of(original))
    assert text.value == expected
    # every output character maps into the original string
    for i in range(len(text.value)):
        a, b = text.span(i, i + 1)
        assert 0 <= a < b <= len(original)


def test_step_without_work_returns_same_object() -> None:
    text = Text.of("干净的简体中文")
    for step in Normalizer().steps:
        assert step(text) is text


CHAIN_CASES = [
    ("緊急投訴", "紧急投诉", "投诉", "投訴"),
    ("我要投 訴！", "我要投诉!", "投诉", "投 訴"),
    ("ＵＲＧＥＮＴ：故-障", "urgent:故障", "故障", "故-障"),
    ("繼續(xù)投訴(sù)", "继续投诉", "投诉", "投訴"),
    ("我\u200b要投\u200b诉", "我要投诉", "投诉", "投\u200b诉"),
    ("投诉".encode().decode("gbk") + "!", "投诉!", "投诉", "投诉".encode().decode("gbk")),
]


@pytest.mark.parametrize(
    ("original", "normalized", "word", "original_word"), CHAIN_CASES, ids=[c[0] for c in CHAIN_CASES]
)
def test_chain_maps_matches_back_to_original(
    original: str, normalized: str, word: str, original_word: str
) -> None:
    text = Normalizer()(original)
    assert text.value == normalized
    start = text.value.index(word)
    a, b = text.span(start, start + len(word))
    assert original[a:b] == original_word


@given(st.text(max_size=40))
def test_chain_never_crashes_and_spans_stay_in_range(original: str) -> None:
    text = Normalizer()(original)
    for i in range(len(text.value)):
        a, b = text.span(i, i + 1)
        assert 0 <= a <= b <= len(original)


def test_keyword_normalization_matches_message_normalization() -> None:
    n = Normalizer()
    assert n.word(" 投訴 ") == n.word("投诉") == "投诉"
    assert n.word("ＲＥＦＵＮＤ") == "refund"


@settings(deadline=None)  # the first example loads jieba's dictionary (seconds on a busy machine)
@given(st.text(alphabet=st.sampled_from(list("投诉故障紧急系统无法下单 ,。!?abcXYZ123-_.%\n\t报警器爆炸头")), max_size=30))
def test_fast_segmentation_equals_jieba_lcut(text: str) -> None:
    from monitor.analysis.segment import segment, tokenizer

    assert list(segment(text).words) == tokenizer().lcut(text, HMM=False)


@given(st.text(alphabet=st.sampled_from(list("投訴…①㈱ｱﾞ＆％Ａｂ　ﬁßİ½x ")), max_size=30))
def test_nfkc_expansions_map_each_output_character_to_its_source(original: str) -> None:
    import unicodedata

    from monitor.analysis.normalize import Nfkc, Text

    text = Nfkc()(Text.of(original))
    assert text.value == "".join(unicodedata.normalize("NFKC", c) for c in original)
    want = [i for i, c in enumerate(original) for _ in unicodedata.normalize("NFKC", c)]
    if text.starts is not None:
        assert list(text.starts) == want
        assert list(text.ends or ()) == [i + 1 for i in want]
    else:
        assert want == list(range(len(original)))
