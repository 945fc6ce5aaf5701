"""Negation scope and sentence intent on their own, over normalized text and base segmentation."""

from __future__ import annotations

import pytest

from monitor.analysis import context
from monitor.analysis.intent import intent_of, sentence_at, sentences
from monitor.analysis.normalize import Normalizer
from monitor.analysis.scope import is_negated
from monitor.analysis.segment import segment

NORMALIZE = Normalizer()

SCOPE = [
    # (id, text, keyword, negated)
    ("bushi", "这不是投诉", "投诉", True),
    ("bushi-trad", "這不是投訴", "投诉", True),
    ("meiyou", "没有出现过故障", "故障", True),
    ("meiyou-trad", "沒有出現過故障", "故障", True),
    ("wei", "未发现故障", "故障", True),
    ("bingfei-trad", "並非投訴", "投诉", True),
    ("buyong", "不用报警", "报警", True),
    ("buxiang", "不想投诉", "投诉", True),
    ("bie", "别报警", "报警", True),
    ("cantonese-m", "唔係投訴", "投诉", True),
    ("cantonese-mou", "冇受傷", "受伤", True),
    ("english-not", "not a complaint", "complaint", True),
    ("english-nt", "isn't a complaint", "complaint", True),
    ("english-without", "without any outage", "outage", True),
    ("comma-ends", "没有回复,投诉", "投诉", False),
    ("fullwidth-comma-ends", "沒有回覆，投訴", "投诉", False),
    ("danshi-ends", "不想说但是投诉", "投诉", False),
    ("buguo-ends", "没有退款不过投诉了", "投诉", False),
    ("but-ends", "not great but complaint filed", "complaint", False),
    ("subject-ends", "没有回复我要投诉", "投诉", False),
    ("jiu-ends", "不处理就投诉", "投诉", False),
    ("time-ends", "没有故障今天宕机", "宕机", False),
    ("window-ends", "没有回复这个问题客服态度也差投诉", "投诉", False),
    ("buman-not-negator", "不满投诉", "投诉", False),
    ("wufa-not-negator", "无法登录故障", "故障", False),
    ("budebu-not-negator", "不得不投诉", "投诉", False),
    ("double", "不是没有故障", "故障", False),
    ("double-paichu", "不排除起诉", "起诉", False),
    ("rhetorical-nandao", "难道不是投诉吗", "投诉", False),
    ("rhetorical-ma", "这不是诈骗吗", "诈骗", False),
    ("rhetorical-other-clause", "难道不好吗,这不是投诉", "投诉", True),
    ("parallel", "不会起火不会爆炸", "爆炸", True),
    ("adverb-kept", "不用再投诉", "投诉", True),
    ("ordinal", "不是第一次投诉", "投诉", False),
    ("plain", "我要投诉", "投诉", False),
    ("handling-verb", "客服没有处理投诉", "投诉", False),
    ("handling-verb-trad", "一直未修復故障", "故障", False),
    ("existence-verb", "没有发生故障", "故障", True),
    ("perception-verb", "未发现故障", "故障", True),
    ("hypothetical-ruyu", "如遇故障请联系售后", "故障", True),
    ("hypothetical-ruofasheng-trad", "若發生故障請聯繫客服", "故障", True),
    ("prevention", "防止起火", "起火", True),
    ("prevention-trad", "為避免漏電", "漏电", True),
    ("hypothetical-ends-at-subject", "如遇故障我就投诉", "投诉", False),
]


@pytest.mark.parametrize(("text", "keyword", "negated"), [c[1:] for c in SCOPE], ids=[c[0] for c in SCOPE])
def test_negation_scope(text: str, keyword: str, negated: bool) -> None:
    value = NORMALIZE(text).value
    assert is_negated(segment(value), value.rindex(keyword)) is negated


INTENT = [
    ("where", "投诉箱在哪里?", "question"),
    ("where-trad", "投訴箱在哪裡？", "question"),
    ("qingwen-no-mark", "请问投诉电话是多少", "question"),
    ("qingwen-trad", "請問投訴電話是多少", "question"),
    ("how", "如何申请退款?", "question"),
    ("can", "能不能开发票?", "question"),
    ("ma", "可以投诉吗", "question"),
    ("cantonese", "點樣投訴?", "question"),
    ("english-where", "where is the complaint form?", "question"),
    ("english-how", "how do I get a refund?", "question"),
    ("why", "为什么还不处理我的投诉?", "statement"),
    ("why-trad", "為什麼還不處理我的投訴？", "statement"),
    ("still-not", "怎么还没修好", "statement"),
    ("demand", "请问我要投诉找谁?", "statement"),
    ("exclaim", "在哪里投诉!", "statement"),
    ("english-why", "why is this still broken?", "statement"),
    ("english-demand", "how do I cancel, I will sue you?", "statement"),
    ("no-question", "投诉电话打不通", "statement"),
    ("asking-but-waiting", "请问什么时候处理我的投诉,已经等了一周了", "statement"),
    ("asking-but-again-trad", "請問為何又出故障?", "statement"),
    ("interrogative-without-mark", "我不知道怎么办", "statement"),
]


@pytest.mark.parametrize(("text", "intent"), [c[1:] for c in INTENT], ids=[c[0] for c in INTENT])
def test_sentence_intent(text: str, intent: str) -> None:
    assert intent_of(NORMALIZE(text).value) == intent


def test_sentences_split_on_terminators() -> None:
    text = "投诉箱在哪里?我要投诉!\n谢谢"
    assert [text[a:b] for a, b in sentences(text)] == ["投诉箱在哪里?", "我要投诉!\n", "谢谢"]
    assert text[slice(*sentence_at(text, text.index("我要")))] == "我要投诉!\n"
    assert text[slice(*sentence_at(text, 0))] == "投诉箱在哪里?"


GAP_TEXTS = [
    ("spaces", "东西没坏 退款 好的\n\n投诉  a 中 b 文"),
    ("unicode-spaces", "没坏\u3000退款\u00a0 好\u2028用 ok 中\t\t文"),
    ("full-width-and-pinyin", "ＡＢ 投訴 … 退 款 x  不(bù) 好"),
    ("edges", " 投 诉 "),
    ("no-spaces", "没坏退款"),
]


@pytest.mark.parametrize("text", [t for _, t in GAP_TEXTS], ids=[i for i, _ in GAP_TEXTS])
def test_space_gaps_are_where_whitespace_between_chinese_was_removed(text: str) -> None:
    """Each offset is answered on its own; the answers are the offsets whose original character
    ends a whitespace run between two Chinese characters, as the defining pattern finds them."""
    normalized = NORMALIZE(text)
    gaps = context._SpaceGaps(normalized.starts or tuple(range(len(text))), text)
    ends = {m.end() for m in context._CJK_SPACE.finditer(text)}
    starts = normalized.starts or tuple(range(len(text)))
    expected = {p for p, s in enumerate(starts) if s in ends}
    assert {p for p in range(-2, len(starts) + 3) if p in gaps} == expected
    assert bool(expected) == (text != "没坏退款")
