"""Precision features of the rule engine, in simplified and traditional script: negation scope,
compounds, digit keywords, information-question intent, all_of groups and spaced-digit evasions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.analysis.engine import Engine, load_analyzer
from monitor.errors import ConfigError
from tests.analysis.conftest import message

RULES = """
compounds: [投诉箱, 投诉电话, 故障排除指南]
rules:
  - id: plain
    keywords: {any: [投诉, 故障, complaint, outage]}
    priority: L2
  - id: negated_ok
    negated: include
    keywords: {any: [退款]}
    priority: L2
  - id: per_keyword
    keywords: {any: [{word: 说法, negated: include}, 赔偿]}
    priority: L3
  - id: ask
    unless_intent: question
    keywords: {any: [举报]}
    priority: L2
  - id: digits
    match: substring
    keywords: {any: [315]}
    priority: L1
  - id: near315
    keywords: {any: ["315 NEAR/2 平台|晚会"]}
    priority: L1
  - id: local_compound
    compounds: [紧急联系人]
    keywords: {any: [紧急]}
    priority: L1
  - id: groups
    keywords: {all_of: [[牛奶, 奶粉], [拉肚子, 腹泻, "呕吐 NEAR/2 发烧"]]}
    priority: L1
  - id: none_negated
    keywords: {any: [到账], none: [已到账]}
    priority: L3
"""

CASES: list[tuple[str, str, set[str]]] = [
    # negation: plain rules skip negated mentions, in both scripts and English
    ("neg-bushi", "这不是投诉，只是建议", set()),
    ("neg-bushi-trad", "這不是投訴，只是建議", set()),
    ("neg-meiyou-glued", "用了三年没有故障", set()),
    ("neg-meiyou-glued-trad", "用了三年沒有故障", set()),
    ("neg-wu-glued-trad", "一直無故障", set()),
    ("neg-window", "从来没有出现过任何故障", set()),
    ("neg-cantonese-m", "唔係投訴", set()),
    ("neg-cantonese-mou", "冇故障", set()),
    ("neg-english-not", "this is not a complaint", set()),
    ("neg-english-nt", "there wasn't any outage", set()),
    ("neg-english-never", "we never had an outage", set()),
    # the scope ends: clause punctuation, conjunctions, new subject, consequence, time frame
    ("scope-comma", "没有收到回复，我要投诉", {"plain"}),
    ("scope-comma-trad", "沒有收到回覆，我要投訴", {"plain"}),
    ("scope-but", "本来不想说但是还是投诉了", {"plain"}),
    ("scope-but-before", "本来不想投诉但是实在太差", set()),
    ("scope-subject", "一直没人回复我要投诉", {"plain"}),
    ("scope-jiu", "不处理就投诉", {"plain"}),
    ("scope-time", "之前没有故障今天又故障了", {"plain"}),
    ("scope-too-far", "没有回复这个问题客服态度也差投诉", {"plain"}),
    ("scope-space-between-clauses", "东西没坏 投诉", {"plain"}),
    ("scope-space-between-clauses-trad", "東西沒壞 投訴", {"plain"}),
    ("scope-space-inside-keyword", "这不是投 诉", set()),
    ("scope-space-before-english", "东西没坏 complaint", {"plain"}),
    ("scope-english-spaces-are-words", "there is not a complaint", set()),
    ("scope-space-inside-negator-trad", "這不 是投訴", set()),
    ("scope-english-but", "not happy but no complaint", set()),
    ("scope-english-clause", "no reply, so I filed a complaint", {"plain"}),
    # complaint words that contain a negator do not negate what follows
    ("bu-man-not-negator", "很不满，投诉", {"plain"}),
    ("wu-fa-not-negator", "无法登录故障", {"plain"}),
    # double negation and rhetorical questions assert
    ("double-negation", "不是没有故障", {"plain"}),
    ("double-negation-trad", "不是沒有故障", {"plain"}),
    ("rhetorical-nandao", "难道不是投诉吗", {"plain"}),
    ("rhetorical-nandao-trad", "難道不是投訴嗎", {"plain"}),
    ("rhetorical-bushi-ma", "这不是故障吗", {"plain"}),
    ("ordinal", "不是第一次投诉了", {"plain"}),
    ("adverb-after-negator", "不用再投诉了", set()),
    ("adverb-after-negator-trad", "不用再投訴了", set()),
    ("parallel-negators", "不会故障不会投诉", set()),
    ("parallel-negators-trad", "不會故障不會投訴", set()),
    # opt-in: a negated mention counts for negated: include (rule or keyword)
    ("include-rule", "还没有退款", {"negated_ok"}),
    ("include-rule-trad", "還沒有退款", {"negated_ok"}),
    ("include-keyword", "不给个说法", {"per_keyword"}),
    ("include-keyword-other-excluded", "不要赔偿", set()),
    ("include-keyword-plain", "要求赔偿", {"per_keyword"}),
    # none terms: a negated exclusion does not exclude
    ("none-plain-excludes", "钱已到账", set()),
    ("none-negated-does-not-exclude", "钱到账了吗，还没有已到账提示，一直没到账，到账太慢", {"none_negated"}),
    # compounds: set-level and rule-level
    ("compound-box", "投诉箱满了", set()),
    ("compound-box-trad", "投訴箱滿了", set()),
    ("compound-phone-trad", "投訴電話換了", set()),
    ("compound-guide", "故障排除指南第三页", set()),
    ("compound-and-real", "投诉电话打不通，我要投诉", {"plain"}),
    ("compound-rule-level", "请更新紧急联系人", set()),
    ("compound-rule-level-trad", "請更新緊急聯繫人", set()),
    ("compound-rule-level-real", "紧急联系人电话打不通，紧急！", {"local_compound"}),
    # digit keywords need non-digit neighbours, even in substring mode
    ("digits-alone", "去315", {"digits"}),
    ("digits-capacity", "3150mAh", set()),
    ("digits-price", "¥1315", set()),
    ("digits-phone", "13315678901", set()),
    ("digits-fullwidth", "去３１５", {"digits"}),
    ("digits-spaced", "去 3 1 5 曝光", {"digits"}),
    ("digits-dashed", "3-1-5", {"digits"}),
    ("digits-decimal-price", "3.15元", set()),
    ("near315-platform", "３１５平台", {"digits", "near315"}),
    ("near315-gala-trad", "315晚會", {"digits", "near315"}),
    # intent: information questions stay calm, complaint questions fire
    ("intent-where", "举报入口在哪里？", set()),
    ("intent-where-trad", "舉報入口在哪裡？", set()),
    ("intent-qingwen", "请问举报要什么材料", set()),
    ("intent-qingwen-trad", "請問舉報要什麼材料", set()),
    ("intent-how", "如何举报？", set()),
    ("intent-why", "为什么还不处理我的举报？", {"ask"}),
    ("intent-why-trad", "為什麼還不處理我的舉報？", {"ask"}),
    ("intent-demand", "怎么还没修好，我要举报！", {"ask"}),
    ("intent-statement", "我要举报", {"ask"}),
    ("intent-second-sentence", "举报入口在哪里？我要举报你们", {"ask"}),
    ("intent-only-for-opted-rules", "投诉在哪里？", {"plain"}),
    # all_of: every group needs a hit; negation and NEAR work inside groups
    ("groups-both", "喝了这个牛奶拉肚子", {"groups"}),
    ("groups-both-trad", "喝了這個牛奶拉肚子", {"groups"}),
    ("groups-near", "宝宝吃奶粉后呕吐还发烧", {"groups"}),
    ("groups-one-missing", "牛奶很好喝", set()),
    ("groups-other-missing", "今天拉肚子", set()),
    ("groups-negated", "喝了这个牛奶没有拉肚子", set()),
]


@pytest.fixture
def engine(engine_from: Callable[[str], Engine]) -> Engine:
    return engine_from(RULES)


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_precision_features(engine: Engine, text: str, expected: set[str]) -> None:
    fired = {f.rule_id for f in engine(message(text)).findings}
    assert fired == expected


def test_match_offsets_survive_digit_collapse(engine: Engine) -> None:
    original = "去 3 1 5 曝光"
    (finding,) = [f for f in engine(message(original)).findings if f.rule_id == "digits"]
    (match,) = finding.matches
    assert original[match.start : match.end] == "3 1 5"


BAD = [
    ("bad-intent", "rules:\n  - id: a\n    unless_intent: [rant]\n    keywords: {any: [x]}\n", "unless_intent"),
    ("bad-negated", "rules:\n  - id: a\n    negated: maybe\n    keywords: {any: [x]}\n", "negated"),
    ("empty-group", "rules:\n  - id: a\n    keywords: {all_of: [[x], []]}\n", "all_of[1]"),
    ("empty-compound", "compounds: ['  ']\nrules:\n  - id: a\n    keywords: {any: [x]}\n", "compounds[0]"),
]


@pytest.mark.parametrize(("text", "where"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_new_keys_are_validated(tmp_path: Path, text: str, where: str) -> None:
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_analyzer([tmp_path])
    assert any(where in str(issue) for issue in info.value.issues), [str(i) for i in info.value.issues]


def test_all_of_alone_is_a_condition(engine_from: Callable[[str], Engine]) -> None:
    built = engine_from("rules:\n  - id: g\n    keywords: {all_of: [[a1], [b1]]}\n")
    assert [f.rule_id for f in built(message("a1 b1")).findings] == ["g"]
    assert built(message("a1 only")).findings == ()
