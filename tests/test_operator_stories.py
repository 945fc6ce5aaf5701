"""Operator problems, told once per distinct problem (every database)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from monitor.alerts.operator_notice import OperatorNotice, render_operator
from monitor.storage.db import Database
from monitor.storage.models import Alert, OperatorProblem
from monitor.stories.operator import OperatorProblems
from monitor.targets import TargetConfig

TARGETS = [TargetConfig(name="ops", kind="console"), TargetConfig(name="off", kind="console", enabled=False)]


def notices(db: Database) -> list[tuple[str, str, list[str]]]:
    with db.read() as session:
        rows = session.scalars(select(Alert).where(Alert.kind == "operator").order_by(Alert.id))
        return [(r.payload["problem"], r.payload["state"], r.payload["errors"]) for r in rows]


def test_a_problem_is_told_once_updated_silently_and_fixed_once(any_db: Database) -> None:
    problems = OperatorProblems(any_db, lambda: TARGETS)
    key = "rules:rules/a.yaml"
    assert problems.report(key, "a.yaml invalid", ["e1", "e2"])
    assert not problems.report(key, "a.yaml invalid", ["e1", "e2"]), "same errors: nothing"
    assert not problems.report(key, "a.yaml invalid", ["e3"]), "changed errors: stored, no new page"
    assert problems.fixed_except("rules:", keep={"rules:rules/b.yaml"}) == [key]
    assert problems.fixed_except("rules:") == [], "fixed once"
    assert not problems.fixed(key)
    assert problems.report(key, "a.yaml invalid", ["e4"]), "broken again later: a new notice"
    assert notices(any_db) == [(key, "open", ["e1", "e2"]), (key, "fixed", ["e3"]), (key, "open", ["e4"])]
    with any_db.read() as session:
        row = session.get(OperatorProblem, key)
        assert row is not None and (row.state, row.revision, row.errors) == ("open", 3, ["e4"])


def test_a_second_instance_does_not_tell_again(sqlite_db: Database) -> None:
    first = OperatorProblems(sqlite_db, lambda: TARGETS)
    second = OperatorProblems(sqlite_db, lambda: TARGETS)
    assert first.report("source-auth:x", "x disabled", ["401"])
    assert not second.report("source-auth:x", "x disabled", ["401"])
    assert second.fixed("source-auth:x") and not first.fixed_except("source-auth:")
    assert [n[1] for n in notices(sqlite_db)] == ["open", "fixed"]


def test_operator_notice_renders_every_error_in_every_format() -> None:
    notice = OperatorNotice(
        problem="rules:r.yaml",
        state="open",
        title="规则文件有错误 Rule file invalid: r.yaml",
        errors=("r.yaml:3 a: <bad>", "r.yaml:9 b: worse"),
        since=datetime(2026, 11, 29, 2, 0, tzinfo=UTC),
    )
    payload = {**notice.payload(), "id": 5, "idempotency_key": "operator:rules:r.yaml:1@ops"}
    text = render_operator("text", payload)
    assert text.splitlines()[:4] == [
        "【运维问题 Operator problem】规则文件有错误 Rule file invalid: r.yaml",
        "错误 Errors (2):",
        "- r.yaml:3 a: <bad>",
        "- r.yaml:9 b: worse",
    ]
    assert "工单 Ticket" not in text and "来源" not in text
    assert render_operator("markdown", payload).startswith("### 【运维问题 Operator problem】")
    assert "- r.yaml:3 a: &lt;bad&gt;" in render_operator("telegram", payload)
