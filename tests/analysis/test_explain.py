"""``yuqing rules explain``: the Explanation record and its text/JSON forms."""

from __future__ import annotations

import json

import pytest

from monitor.analysis.engine import Engine
from monitor.analysis.explain import explain, render, to_json
from tests.analysis.conftest import RULES, message
from tests.analysis.test_cli import run


def _verdict(ex: object, rule_id: str) -> object:
    return next(v for v in ex.verdicts if v.rule_id == rule_id)  # type: ignore[attr-defined]


CASES = [
    ("negated", "这不是投诉，只是建议", "escalation.complaint", "no_match", "negated"),
    ("negated-traditional", "這不是投訴，只是建議", "escalation.complaint", "no_match", "negated"),
    ("compound", "投诉箱满了", "escalation.complaint", "no_match", "compound"),
    ("compound-traditional", "投訴箱滿了", "escalation.complaint", "no_match", "compound"),
    ("question", "请问投诉要什么材料", "escalation.complaint", "no_match", "question"),
    ("question-traditional", "請問投訴要什麼材料", "escalation.complaint", "no_match", "question"),
    ("digits-in-number-token", "3150mAh 投诉 315 平台", "escalation.legal", "fired", "partial"),
    ("partial", "烟雾报警器响了", "escalation.legal", "no_match", "partial"),
]


@pytest.mark.parametrize(("text", "rule", "outcome", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_rule_says_why(default_engine: Engine, text: str, rule: str, outcome: str, reason: str) -> None:
    ex = explain(default_engine, message(text))
    verdict = _verdict(ex, rule)
    assert verdict.outcome == outcome  # type: ignore[attr-defined]
    assert reason in {r.reason for r in verdict.rejected}  # type: ignore[attr-defined]


def test_explanation_agrees_with_the_engine(default_engine: Engine) -> None:
    for text in ("投诉箱在哪里？我要投诉！", "没有故障", "充电宝爆炸了", "請問怎麼申請退款？"):
        ex = explain(default_engine, message(text))
        fired = {v.rule_id for v in ex.verdicts if v.fired}
        assert fired == {f.rule_id for f in default_engine(message(text)).findings}
        assert ex.analysis.priority == default_engine(message(text)).priority


def test_record_shows_normalization_tokens_and_intent(default_engine: Engine) -> None:
    ex = explain(default_engine, message("投訴箱在哪裡？我要投訴！"))
    assert ex.normalized == "投诉箱在哪里?我要投诉!"
    assert "在哪里" in ex.tokens
    assert [s.intent for s in ex.sentences] == ["question", "statement"]
    statuses = {(o.match.start, o.status, o.compound_word) for o in ex.occurrences if o.match.keyword == "投诉"}
    assert statuses == {(0, "compound", False), (9, "plain", False)}
    assert any(o.compound_word and o.match.keyword == "投诉箱" for o in ex.occurrences)


def test_group_missing_is_explained(engine_from: object) -> None:
    built = engine_from("rules:\n  - id: g\n    keywords: {all_of: [[牛奶], [腹泻, 拉肚子]]}\n")  # type: ignore[operator]
    verdict = _verdict(explain(built, message("牛奶很好喝")), "g")
    assert verdict.outcome == "group_missing" and "腹泻" in verdict.detail  # type: ignore[attr-defined]


def test_number_is_explained_in_substring_mode(engine_from: object) -> None:
    built = engine_from("rules:\n  - id: d\n    match: substring\n    keywords: {any: [315]}\n")  # type: ignore[operator]
    verdict = _verdict(explain(built, message("价格¥1315")), "d")
    assert [r.reason for r in verdict.rejected] == ["number"]  # type: ignore[attr-defined]


def test_text_is_chinese_first(default_engine: Engine) -> None:
    text = render(explain(default_engine, message("这不是投诉")))
    assert "归一化 normalized" in text and "否定 negated" in text
    assert "escalation.complaint" in text


def test_cli_json(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["rules", "explain", "--rules", str(RULES), "--json", "投诉箱在哪里？"], monkeypatch) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["priority"] is None and data["alert"] is False
    complaint = next(r for r in data["rules"] if r["rule"] == "escalation.complaint")
    assert complaint["fired"] is False
    assert [r["reason"] for r in complaint["rejected"]] == ["compound"]
    assert json.dumps(to_json(explain_default(data["original"])), ensure_ascii=False)


def explain_default(text: str) -> object:
    from monitor.analysis.engine import load_engine

    return explain(load_engine([RULES]), message(text))


def test_cli_text(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["rules", "explain", "--rules", str(RULES), "我要投訴"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "✓ escalation.complaint" in out and "priority=L2" in out
