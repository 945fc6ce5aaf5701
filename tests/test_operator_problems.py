"""Operator problems are told once: five broken saves of a rule file are one operator alert listing
every error and one "fixed" notice; a receiver answering 401 disables its target with one alert.

The daemon runs as operators run it (a subprocess); notices reach a real HTTP receiver on 127.0.0.1.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from monitor.alerts.render import render
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.storage.models import Alert, OperatorProblem, TargetState
from tests.helpers.builders import write_config, write_rules
from tests.helpers.daemon import DaemonProcess, wait_for
from tests.helpers.receiver import Receiver, receiver

BROKEN = (
    "rules:\n"
    "  - id: n.refund\n    keywords: {any: [退款]}\n    unknown: 1\n"
    "  - id: n.threat\n    keywords: {any: [弄死]}\n    priority: L9\n"
    "# save {n}\n"
)
BROKEN_OTHER = "rules:\n  - id: n.refund\n    keywords: {any: [退款]}\n    colour: red\n# save {n}\n"
VALID = "rules:\n  - id: n.refund\n    keywords: {any: [退款]}\n    priority: L2\n    alert: true\n"


def config(tmp_path: Path, hook: str, **extra: Any) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    return write_config(
        tmp_path / "yuqing.yaml",
        {
            "instance": "test",
            "state_dir": str(tmp_path / "state"),
            "logging": {"format": "json"},
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))], "watch_seconds": 0.5},
            "scheduler": {"jitter_seconds": 0, "outbox_interval_seconds": 0.3},
            "sources": [
                {"name": "drop", "kind": "files", "interval_seconds": 0.5,
                 "files": {"path": str(inbox), "settle_seconds": 0}}
            ],
            "alerts": {"targets": [{"name": "ops", "kind": "webhook", "webhook": {"url": hook}}], **extra},
        },
    )


def operator_posts(r: Receiver) -> list[dict[str, Any]]:
    return [b for b in r.bodies("/hook") if b.get("kind") == "operator"]


def invalid_reloads(daemon: DaemonProcess) -> int:
    """Errors logged by reloads so far (each reload logs one ``rules_invalid`` per error)."""
    return sum(1 for e in daemon.events() if e.get("event") == "rules_invalid")


def test_five_broken_saves_are_one_alert_with_every_error_and_one_fixed_notice(tmp_path: Path) -> None:
    with receiver() as r:
        path = config(tmp_path, f"{r.url}/hook")
        rule_file = tmp_path / "rules" / "new.yaml"
        daemon = DaemonProcess(path, tmp_path / "daemon.log")
        try:
            wait_for(lambda: any(e.get("event") == "started" for e in daemon.events()), what="start")
            for n in range(5):
                seen = invalid_reloads(daemon)
                template = BROKEN_OTHER if n == 3 else BROKEN
                rule_file.write_text(template.replace("{n}", str(n)), encoding="utf-8")
                wait_for(lambda s=seen: invalid_reloads(daemon) > s, what=f"broken save {n} noticed")
            wait_for(lambda: operator_posts(r), what="the operator alert")
            rule_file.write_text(VALID, encoding="utf-8")
            wait_for(lambda: len(operator_posts(r)) >= 2, what="the fixed notice")
            wait_for(lambda: any(e.get("event") == "rules_reloaded" for e in daemon.events()), what="reload")
            time.sleep(1.5)  # three more watch and delivery rounds: nothing else arrives
            code, _ = daemon.stop()
        finally:
            daemon.kill()
        posts = operator_posts(r)
    assert code == 0
    assert [p["state"] for p in posts] == ["open", "fixed"], posts
    opened, fixed = posts
    assert opened["problem"] == f"rules:{tmp_path / 'rules' / 'new.yaml'}"
    assert "new.yaml" in opened["title"]
    assert len(opened["errors"]) >= 2, "every error of the file, not only the first"
    assert any("unknown" in e for e in opened["errors"]) and any("rules[1].priority" in e for e in opened["errors"])
    assert fixed["problem"] == opened["problem"]
    assert fixed["errors"] == opened["errors"], "the last save had the first save's errors again"
    assert "【已修复 Fixed】" in render("text", fixed) and "- " + opened["errors"][1] in render("text", opened)


def test_a_receiver_answering_401_disables_the_target_with_one_operator_alert(tmp_path: Path) -> None:
    with receiver() as r, receiver() as ops:
        r.script = [(401, '{"error":"invalid token"}')] * 10
        path = write_config(
            tmp_path / "c.yaml",
            {
                "state_dir": str(tmp_path),
                "logging": {"level": "warning"},
                "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
                "sources": [
                    {"name": "drop", "kind": "files", "files": {"path": str(inbox(tmp_path)), "settle_seconds": 0}}
                ],
                "alerts": {
                    "targets": [
                        {"name": "pr", "kind": "webhook", "webhook": {"url": f"{r.url}/hook"}},
                        {"name": "ops", "kind": "webhook", "webhook": {"url": f"{ops.url}/hook"}},
                    ]
                },
            },
        )
        daemon = Daemon(path, load_config(path))
        daemon.runtime.db.upgrade()
        assert daemon.run_once() == 0
        daemon.deliver()
        assert daemon.run_once() == 0  # a second run (a restart) does not tell again
        daemon.runtime.close()
        pr_posts, ops_posts = r.bodies("/hook"), ops.bodies("/hook")
    tickets = [p for p in ops_posts if p.get("kind") == "ticket"]
    # the SLA job of run --once adds the next year's calendar warning in November and December
    operator = [p for p in ops_posts if p.get("kind") == "operator" and not p["problem"].startswith("calendar-")]
    assert len(tickets) == 3, "the working target gets every alert"
    assert len(pr_posts) == 1, "the rejecting target is tried once, then disabled"
    assert [(p["problem"], p["state"]) for p in operator] == [("sender-auth:pr", "open")]
    assert "401" in operator[0]["errors"][0]
    with daemon.runtime.db.read() as session:
        state = session.get(TargetState, "pr")
        assert state is not None and "401" in state.reason
        failed = session.scalars(select(Alert).where(Alert.target == "pr", Alert.status == "failed", Alert.kind == "ticket")).all()
        assert len(failed) == 3 and "yuqing alerts enable pr" in (failed[-1].last_error or "")
        problem = session.get(OperatorProblem, "sender-auth:pr")
        assert problem is not None and problem.state == "open" and problem.revision == 1


def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir(exist_ok=True)
    records = [{"id": str(i), "text": f"紧急 投诉 {i}", "thread": f"t{i}"} for i in range(3)]
    (folder / "a.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in records))
    return folder
