"""CLI: tickets and quarantine listing (stable --json), status changes, quarantine retry."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from monitor.cli import main
from tests.helpers.builders import write_config, write_rules


@pytest.fixture
def config(tmp_path: Path) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.jsonl").write_text(
        '{"id": "1", "text": "紧急：无法登录", "thread": "t1"}\n'
        '{"id": "2", "text": "还是不行", "thread": "t1"}\n'
        '{"id": "3", "text": "thanks", "thread": "t2"}\n'
        '{"id": "4", "text": "bad", "created_at": "not a time"}\n',
        encoding="utf-8",
    )
    path = write_config(
        tmp_path / "c.yaml",
        {
            "state_dir": str(tmp_path / "state"),
            "logging": {"format": "json", "level": "warning"},
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "sources": [
                {"name": "drop", "kind": "files", "files": {"path": str(inbox), "settle_seconds": 0}}
            ],
            "alerts": {
                "targets": [{"name": "f", "kind": "jsonl", "jsonl": {"path": str(tmp_path / "a.jsonl")}}]
            },
        },
    )
    assert main(["run", "--once", "--config", str(path)]) == 0
    return path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    capsys.readouterr()
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def test_tickets_list_json_is_a_stable_array(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tickets = run_json(capsys, "tickets", "list", "--json", "--config", str(config))
    assert isinstance(tickets, list) and len(tickets) == 2
    first = tickets[-1]
    assert set(first) == {
        "code", "status", "priority", "source", "channel", "thread_key", "title", "type", "category",
        "message_ids", "created_at", "updated_at",
    }  # fmt: skip
    assert (first["code"], first["status"], first["priority"], first["thread_key"]) == (
        "Q000001",
        "received",
        "L1",
        "t1",
    )
    assert len(first["message_ids"]) == 2
    assert re.match(r"\d{4}-\d\d-\d\dT", first["created_at"])
    only_l1 = run_json(capsys, "tickets", "list", "--json", "--priority", "L1", "--config", str(config))
    assert [t["code"] for t in only_l1] == ["Q000001"]  # type: ignore[union-attr]


def test_ticket_show_and_status_changes_leave_an_audit_trail(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["tickets", "set-status", "q000001", "processing", "--note", "looking", "--config", str(config)])
        == 0
    )
    assert main(["tickets", "set-status", "Q000001", "resolved", "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["tickets", "set-status", "Q000001", "resolved", "--config", str(config)]) == 1
    assert "cannot go from resolved to resolved" in capsys.readouterr().err
    ticket = run_json(capsys, "tickets", "show", "Q000001", "--json", "--config", str(config))
    assert isinstance(ticket, dict)
    assert ticket["status"] == "resolved"
    assert [(e["kind"], e["new"]) for e in ticket["events"]] == [
        ("created", "received"), ("message", None), ("message", None), ("priority", "L1"),
        ("status", "processing"), ("status", "resolved"),
    ]  # fmt: skip
    assert ticket["events"][4]["note"] == "looking"
    assert [m["text"] for m in ticket["messages"]] == ["紧急：无法登录", "还是不行"]


def test_unknown_ticket_is_an_error(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tickets", "show", "Q999999", "--config", str(config)]) == 1


def test_quarantine_list_show_and_retry_after_a_fix(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = run_json(capsys, "quarantine", "list", "--json", "--config", str(config))
    assert isinstance(rows, list) and len(rows) == 1
    (row,) = rows
    assert "unrecognised time" in row["reason"] and row["status"] == "pending"
    capsys.readouterr()
    assert main(["quarantine", "show", str(row["id"]), "--raw", "--config", str(config)]) == 0
    assert b'"not a time"' in capsys.readouterr().out.encode()
    # still bad: the retry says so and keeps the row
    assert main(["quarantine", "retry", str(row["id"]), "--config", str(config)]) == 1
    assert "still bad" in capsys.readouterr().out
    # the operator fixes the mapping (times come from a field that is absent) and retries
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["sources"][0]["files"]["fields"] = {"created_at": "ts"}
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["quarantine", "retry", "--all", "--config", str(config)]) == 0
    assert "stored" in capsys.readouterr().out
    assert run_json(capsys, "quarantine", "list", "--json", "--config", str(config)) == []
    tickets = run_json(capsys, "tickets", "list", "--json", "--config", str(config))
    assert len(tickets) == 3  # type: ignore[arg-type]


def test_quarantine_discard_needs_a_reason_and_keeps_the_row(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (row,) = run_json(capsys, "quarantine", "list", "--json", "--config", str(config))  # type: ignore[misc]
    ident = str(row["id"])
    with pytest.raises(SystemExit) as refused:  # argparse: --reason is required
        main(["quarantine", "discard", ident, "--config", str(config)])
    assert refused.value.code == 2
    assert main(["quarantine", "discard", ident, "--reason", "  ", "--config", str(config)]) == 2
    assert "--reason" in capsys.readouterr().err
    assert main(["quarantine", "discard", "999", "--reason", "x", "--config", str(config)]) == 3
    assert main(["quarantine", "discard", ident, "--reason", "测试数据 test data", "--actor", "wang",
                 "--config", str(config)]) == 0  # fmt: skip
    assert run_json(capsys, "quarantine", "list", "--json", "--config", str(config)) == []
    (kept,) = run_json(capsys, "quarantine", "list", "--json", "--all", "--config", str(config))  # type: ignore[misc]
    assert kept["status"] == "discarded"
    assert kept["last_error"] == "discarded by wang: 测试数据 test data"
    assert main(["quarantine", "retry", ident, "--config", str(config)]) == 1  # a discarded row is not retried
    assert "discarded" in capsys.readouterr().out


def test_tickets_list_pages_and_all(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    every = run_json(capsys, "tickets", "list", "--json", "--all", "--config", str(config))
    assert isinstance(every, list) and len(every) == 2
    first = run_json(capsys, "tickets", "list", "--json", "--limit", "1", "--config", str(config))
    second = run_json(capsys, "tickets", "list", "--json", "--limit", "1", "--offset", "1", "--config", str(config))
    assert first + second == every  # type: ignore[operator]
    capsys.readouterr()
    assert main(["tickets", "list", "--limit", "1", "--config", str(config)]) == 0
    assert "--offset 1" in capsys.readouterr().out


def test_ticket_show_json_names_each_messages_origin(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ticket = run_json(capsys, "tickets", "show", "Q000001", "--json", "--config", str(config))
    assert isinstance(ticket, dict)
    assert [(m["source"], m["external_id"]) for m in ticket["messages"]] == [("drop", "1"), ("drop", "2")]
    assert all(m["raw_ref"].startswith("a.jsonl") or "a.jsonl" in m["raw_ref"] for m in ticket["messages"])
