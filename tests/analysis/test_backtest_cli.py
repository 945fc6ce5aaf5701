"""``yuqing rules backtest`` on stored traffic: no phantom changes, readable examples, config paths."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog
from sqlalchemy import select

from monitor.analysis.backtest import compare, excerpt
from monitor.analysis.engine import Engine
from monitor.cli import main
from monitor.findings import Match
from monitor.storage.db import Database
from monitor.storage.models import StoredMessage
from tests.analysis.conftest import message

# alert: false rules (classification) are exactly what used to show up as "+0/-N alerts"
RULES = (
    "rules:\n"
    "  - id: t.complaint\n    keywords: {any: [投诉]}\n    priority: L2\n    alert: true\n"
    "  - id: t.safety\n    keywords: {any: [漏液, 起火]}\n    priority: L1\n    alert: true\n"
    "  - id: c.product\n    keywords: {any: [充电宝, 耳机]}\n    category: product\n"
    "  - id: c.service\n    keywords: {any: [客服]}\n    type: complaint\n"
)
TEXTS = [
    "你好，我的电话是13812345678，上周买的充电宝一直漏液，我要投诉，请联系 zhang.san@example.com",
    "客服态度很差，我要投诉",
    "耳机很好用",
    "今天天气不错",
    "充电宝起火了！",
    "客服回复很快，谢谢",
    "我要投诉耳机质量",
    "请问在哪里买充电宝",
]


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    """``run --once`` configures structlog globally (level filter included); later tests that
    capture log events must not inherit it."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture
def ingested(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Messages ingested with RULES by ``run --once``; the config lives in conf/, rules in shared/."""
    rules = tmp_path / "shared" / "rules"
    rules.mkdir(parents=True)
    (rules / "r.yaml").write_text(RULES, encoding="utf-8")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    lines = [
        json.dumps({"id": f"<{i:032x}@mail>", "text": t}, ensure_ascii=False) for i, t in enumerate(TEXTS)
    ]
    (inbox / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    conf = tmp_path / "conf"
    conf.mkdir()
    config = conf / "yuqing.yaml"
    config.write_text(
        f"state_dir: {tmp_path}\nlogging: {{level: warning}}\nrules:\n  paths: [../shared/rules]\n"
        f"sources:\n  - name: drop\n    kind: files\n    files: {{path: {inbox}, settle_seconds: 0}}\n",
        encoding="utf-8",
    )
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "rules").mkdir(parents=True)  # a decoy ./rules the commands must not use
    (elsewhere / "rules" / "x.yaml").write_text("rules:\n  - id: decoy\n    keywords: {any: [天气]}\n")
    monkeypatch.chdir(elsewhere)
    assert main(["run", "--once", "--config", str(config)]) == 0
    return config


def backtest(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    capsys.readouterr()
    assert main(["rules", "backtest", "--since", "1d", "--config", str(config), *extra]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("baseline", ["stored", "live"])
def test_unchanged_rules_show_no_change(
    ingested: Path, capsys: pytest.CaptureFixture[str], baseline: str
) -> None:
    out = backtest(ingested, capsys, "--baseline", baseline)
    assert f"{len(TEXTS)} 条消息" in out and "没有差异 no differences" in out
    same = ingested.parent.parent / "shared" / "rules"
    out = backtest(ingested, capsys, "--rules", str(same), "--baseline", baseline)
    assert "没有差异 no differences" in out


def test_rows_stored_without_per_rule_alerts_show_no_phantom_change(
    ingested: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = Database(f"sqlite:///{ingested.parent.parent / 'yuqing.db'}")
    with db.transaction() as session:
        for row in session.scalars(select(StoredMessage)):
            record = dict(row.analysis or {})
            assert "alerts" in record
            record.pop("alerts")
            row.analysis = record
    assert "没有差异 no differences" in backtest(ingested, capsys)


def test_a_changed_rule_shows_ticket_codes_and_masked_excerpts(
    ingested: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    candidate = ingested.parent.parent / "candidate"
    candidate.mkdir()
    changed = RULES.replace("keywords: {any: [漏液, 起火]}", "keywords: {any: [起火]}").replace(
        "[客服]}\n", "[客服]}\n    alert: true\n    priority: L3\n"
    )
    (candidate / "r.yaml").write_text(changed, encoding="utf-8")
    out = backtest(ingested, capsys, "--rules", str(candidate))
    lines = out.splitlines()
    assert "基准 baseline: 当前规则 live rules" in lines[0]
    at = lines.index("  t.safety: +0/-1 fired, +0/-1 alerts")
    removed = lines[at + 1]
    assert removed.startswith("    - Q") and "一直漏液" in removed
    assert "****5678" in removed and "13812345678" not in out and "12345678" not in out
    assert "z***@example.com" in out and "zhang.san" not in out
    at = lines.index("  c.service: +0/-0 fired, +2/-0 alerts")
    assert all(line.startswith("    + Q") and "客服" in line for line in lines[at + 1 : at + 3])
    assert "@mail>" not in out  # no external ids (mail hashes)
    assert not any(rule in out for rule in ("t.complaint", "c.product", "decoy"))


def test_backtest_uses_the_configured_rules_not_the_working_directory(
    ingested: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = backtest(ingested, capsys)
    assert f"候选 candidate: {ingested.parent.parent / 'shared' / 'rules'}" in out.replace("conf/../", "")
    assert "decoy" not in out


def test_excerpt_is_cut_around_the_keyword_after_masking() -> None:
    text = "前面很长的一段话" * 5 + "联系13812345678，充电宝漏液了" + "后面的话" * 10
    at = text.index("漏液")
    cut = excerpt(
        message(text), (Match("漏液", at, at + 2),), lambda t: t.replace("13812345678", "138****5678")
    )
    assert cut.startswith("…") and cut.endswith("…") and "漏液" in cut and "138****5678" in cut
    assert len(cut) <= 62


def test_compare_keeps_examples_for_removed_rules(engine_from: Callable[[str], Engine]) -> None:
    old = engine_from("rules:\n  - id: c\n    keywords: {any: [投诉]}\n    alert: true\n")
    new = engine_from("rules:\n  - id: c\n    keywords: {any: [举报]}\n    alert: true\n")
    report = compare([message("我要投诉你们")], old, new, ref=lambda m: "Q000001")
    assert [str(e) for e in report.removed_examples["c"]] == ["Q000001  “我要投诉你们”"]
