"""Every rule feature, in simplified and traditional script, with must-fire and must-not-fire cases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from monitor.analysis.engine import Engine
from tests.analysis.conftest import message

RULES = """
rules:
  - id: any
    keywords: {any: [投诉, 故障, refund]}
    priority: L2
    alert: true
  - id: all
    keywords: {all: [退款, 客服]}
    priority: L3
  - id: none
    keywords: {any: [满意], none: [不满意]}
    type: praise
  - id: near
    keywords: {any: ["律师 NEAR/2 起诉|告"]}
    priority: L1
  - id: substring
    match: substring
    keywords: {any: [骗]}
    review: true
  - id: mixed_mode
    keywords: {any: [{word: 爆, match: substring}, 起火]}
  - id: regex
    regex: ['订单号\\s*[:：]?\\s*\\d{6,}']
    tags: [order]
  - id: thresholds
    thresholds: {sentiment_max: -0.3, followers_min: 1000, engagement_min: 10}
    priority: L2
  - id: source_filter
    sources: [weibo]
    channels: [social]
    keywords: {any: [紧急]}
    priority: L1
  - id: disabled
    enabled: false
    keywords: {any: [投诉]}
  - id: outputs
    keywords: {any: [售后]}
    priority: L3
    type: complaint
    category: service
    department: 客服部
    tags: [after-sales, cs]
    review: true
"""

CASES: list[tuple[str, str, dict[str, Any], set[str]]] = [
    # any: both scripts, evasions
    ("any-simplified", "我要投诉", {}, {"any"}),
    ("any-traditional", "我要投訴", {}, {"any"}),
    ("any-fullwidth-spaced", "系统故 障了", {}, {"any"}),
    ("any-symbol-inserted", "我要投*訴", {}, {"any"}),
    ("any-zero-width", "投\u200b诉", {}, {"any"}),
    ("any-english-case", "REFUND please", {}, {"any"}),
    ("any-compound-head", "出现系统故障", {}, {"any"}),
    ("any-english-longer-word-not", "refunded already", {}, set()),
    ("any-none-of-them", "今天天气很好", {}, set()),
    # all
    ("all-both", "联系客服申请退款", {}, {"all"}),
    ("all-both-traditional", "聯繫客服申請退款", {}, {"all"}),
    ("all-only-one", "申请退款", {}, set()),
    # none
    ("none-positive", "非常满意", {}, {"none"}),
    ("none-blocked", "很不满意", {}, set()),
    ("none-blocked-traditional", "很不滿意", {}, set()),
    # NEAR
    ("near-close", "我请了律师准备起诉", {}, {"near"}),
    ("near-alternative", "律师说要告你们", {}, {"near"}),
    ("near-reversed", "起诉就找律师", {}, {"near"}),
    ("near-too-far", "律师今天下午和我们一起喝茶聊了聊天然后才说起诉", {}, set()),
    ("near-traditional", "我請了律師準備起訴", {}, {"near"}),
    # whole token vs substring
    ("token-inside-word-not", "报警器响了", {}, set()),
    ("substring-inside-word", "被欺骗了", {}, {"substring"}),
    ("substring-traditional", "被欺騙了", {}, {"substring"}),
    ("mixed-mode-substring-entry", "电池爆了", {}, {"mixed_mode"}),
    ("mixed-mode-token-entry", "起火了", {}, {"mixed_mode"}),
    # regex (RE2) over normalized text
    ("regex-hit", "订单号：12345678 没到", {}, {"regex"}),
    ("regex-fullwidth-digits", "訂單號 １２３４５６７", {}, {"regex"}),
    ("regex-too-short", "订单号 123", {}, set()),
    # thresholds
    ("thresholds-all-hold", "太差了，垃圾，再也不买了", {"followers": 5000, "likes": 20}, {"thresholds"}),
    ("thresholds-few-followers", "太差了，垃圾，再也不买了", {"followers": 10, "likes": 20}, set()),
    ("thresholds-unknown-followers", "太差了，垃圾，再也不买了", {"likes": 20}, set()),
    ("thresholds-low-engagement", "太差了，垃圾，再也不买了", {"followers": 5000, "likes": 1}, set()),
    ("thresholds-positive", "非常满意，非常喜欢", {"followers": 5000, "likes": 20}, {"none"}),
    # sources / channels
    ("source-match", "紧急", {"source": "weibo", "channel": "social"}, {"source_filter"}),
    ("source-other", "紧急", {"source": "mail", "channel": "social"}, set()),
    ("channel-other", "紧急", {"source": "weibo", "channel": "email"}, set()),
]


@pytest.fixture
def engine(engine_from: Callable[[str], Engine]) -> Engine:
    return engine_from(RULES)


@pytest.mark.parametrize(("text", "kwargs", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_features(engine: Engine, text: str, kwargs: dict[str, Any], expected: set[str]) -> None:
    fired = {f.rule_id for f in engine(message(text, **kwargs)).findings}
    assert fired == expected


def test_disabled_rule_never_fires(engine: Engine) -> None:
    assert "disabled" not in {f.rule_id for f in engine(message("投诉")).findings}


def test_outputs_are_copied_into_the_finding(engine: Engine) -> None:
    analysis = engine(message("售后不管"))
    (finding,) = [f for f in analysis.findings if f.rule_id == "outputs"]
    assert (finding.priority, finding.feedback_type, finding.category, finding.department) == (
        "L3",
        "complaint",
        "service",
        "客服部",
    )
    assert finding.tags == ("after-sales", "cs")
    assert finding.review and analysis.review
    assert analysis.priority == "L3"


def test_matches_point_into_the_original_text(engine: Engine) -> None:
    original = "喂，我要投 訴！"
    (finding,) = engine(message(original)).findings
    (match,) = finding.matches
    assert original[match.start : match.end] == "投 訴"
    assert match.keyword == "投诉" and match.field == "text"


def test_title_matches_report_the_title_field(engine: Engine) -> None:
    analysis = engine(message("正文没有关键词", title="投訴：服務"))
    (finding,) = analysis.findings
    (match,) = finding.matches
    assert match.field == "title" and (match.start, match.end) == (0, 2)


def test_text_offsets_skip_the_title(engine: Engine) -> None:
    analysis = engine(message("我要投诉", title="标题"))
    (match,) = analysis.findings[0].matches
    assert (match.field, match.start, match.end) == ("text", 2, 4)


def test_near_reports_both_words(engine: Engine) -> None:
    (finding,) = engine(message("律师要起诉")).findings
    assert {m.keyword for m in finding.matches} == {"律师", "起诉"}


def test_regex_cannot_hang_on_pathological_input(engine_from: Callable[[str], Engine]) -> None:
    # (a+)+$ is catastrophic for backtracking engines; RE2 runs in linear time.
    engine = engine_from("rules:\n  - id: evil\n    regex: ['(a+)+$']\n")
    analysis = engine(message("a" * 5000 + "!"))
    assert analysis.findings == ()


def test_analysis_carries_sentiment(engine: Engine) -> None:
    analysis = engine(message("非常好用，很喜欢"))
    assert analysis.sentiment is not None and analysis.sentiment.label == "positive"


def test_thousand_rules_one_pass(engine_from: Callable[[str], Engine]) -> None:
    lines = ["rules:"]
    for i in range(1000):
        lines.append(f"  - id: r{i}\n    keywords: {{any: [词{i}号, kw{i}x]}}")
    engine = engine_from("\n".join(lines))
    fired = {f.rule_id for f in engine(message("这里有词17号和KW999X")).findings}
    assert fired == {"r17", "r999"}
