"""``yuqing alerts test`` sends through the real sender now; ``alerts enable`` brings a target back."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from monitor.alerts.target_state import disable
from monitor.config import load_config
from monitor.storage.db import Database
from monitor.storage.models import Alert, OperatorProblem, TargetState
from monitor.stories.operator import OperatorProblems
from tests.helpers.builders import write_config, write_rules
from tests.helpers.daemon import yuqing
from tests.helpers.receiver import receiver


def config(tmp_path: Path, url: str) -> Path:
    return write_config(
        tmp_path / "c.yaml",
        {
            "state_dir": str(tmp_path),
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "alerts": {
                "targets": [
                    {"name": "pr", "kind": "wecom", "wecom": {"key": "K", "base_url": url}},
                    {"name": "ops", "kind": "jsonl", "jsonl": {"path": str(tmp_path / "ops.jsonl")}},
                ]
            },
        },
    )


def test_alerts_test_sends_a_test_message_now_and_says_so(tmp_path: Path) -> None:
    with receiver() as r:
        result = yuqing("--config", str(config(tmp_path, r.url)), "alerts", "test", "pr")
        bodies = r.bodies("/cgi-bin/webhook/send")
    assert result.returncode == 0, result.stderr
    assert "pr: 已发送 sent" in result.stdout
    (body,) = bodies
    content = body["markdown"]["content"]
    assert content.startswith("### 【测试 Test】yuqing 测试消息 test message for target pr (wecom)")
    assert "Ticket -" not in content
    assert not (tmp_path / "yuqing.db").exists(), "sent directly, not through the outbox"


def test_alerts_test_fails_with_exit_1_when_the_receiver_rejects_the_key(tmp_path: Path) -> None:
    with receiver() as r:
        r.script = [(200, '{"errcode":93000,"errmsg":"invalid webhook url"}')]
        result = yuqing("--config", str(config(tmp_path, r.url)), "alerts", "test", "pr")
    assert result.returncode == 1
    assert "失败 failed (auth): wecom errcode 93000" in result.stderr


def test_alerts_test_of_an_unknown_target_is_a_usage_error(tmp_path: Path) -> None:
    result = yuqing("--config", str(config(tmp_path, "http://127.0.0.1:9")), "alerts", "test", "nope")
    assert result.returncode == 2
    assert "unknown alert target 'nope'" in result.stderr and "pr, ops" in result.stderr


def test_alerts_enable_requeues_what_failed_and_sends_one_fixed_notice(tmp_path: Path) -> None:
    path = config(tmp_path, "http://127.0.0.1:9")
    app = load_config(path)
    db = Database(app.database_url)
    db.upgrade()
    pr = next(t for t in app.alerts.targets if t.name == "pr")
    with db.transaction() as session:
        session.add(Alert(dedupe_key="old", target="pr", kind="ticket", payload={}, status="failed"))
        session.flush()
        first = session.scalar(select(Alert.id).where(Alert.dedupe_key == "old"))
        session.add(Alert(dedupe_key="t1", target="pr", kind="ticket", payload={}, status="failed"))
    assert disable(db, pr, "HTTP 401 from http://127.0.0.1:9/...", (first or 0) + 1)
    assert not disable(db, pr, "HTTP 401 again", None), "disabled once"
    problems = OperatorProblems(db, lambda: app.alerts.targets)
    assert problems.report("sender-auth:pr", "pr rejected", ["HTTP 401"])

    result = yuqing("--config", str(path), "alerts", "enable", "pr")
    again = yuqing("--config", str(path), "alerts", "enable", "pr")

    assert result.returncode == 0, result.stderr
    assert "pr: 已启用 enabled; 重新排队 re-queued 1 alert(s)" in result.stdout
    assert again.returncode == 0 and "not disabled" in again.stdout
    with db.read() as session:
        assert session.get(TargetState, "pr") is None
        statuses = dict(session.execute(select(Alert.dedupe_key, Alert.status)).tuples().all())
        problem = session.get(OperatorProblem, "sender-auth:pr")
        notices = session.scalars(select(Alert).where(Alert.kind == "operator")).all()
    assert statuses["old"] == "failed" and statuses["t1"] == "pending"
    assert problem is not None and problem.state == "fixed"
    assert sorted((n.target, n.payload["state"]) for n in notices) == [
        ("ops", "fixed"), ("ops", "open"), ("pr", "fixed"),
    ], "the open notice skipped the disabled target; the fixed one reaches it again"
