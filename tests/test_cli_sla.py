"""CLI: ``tickets set|note|respond``, the state machine through ``set-status``, ``sla show|due``."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from monitor.cli import main
from tests.test_cli import config as _daemon_ran_once
from tests.test_cli import run_json


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """test_cli's configuration, after one daemon run over its inbox (ticket Q000001: 紧急, L1)."""
    return _daemon_ran_once.__wrapped__(tmp_path)  # type: ignore[attr-defined, no-any-return]


def _ticket(capsys: pytest.CaptureFixture[str], config: Path) -> dict[str, object]:
    record = run_json(capsys, "tickets", "show", "Q000001", "--json", "--config", str(config))
    assert isinstance(record, dict)
    return record


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str], code: int) -> str:
    capsys.readouterr()
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert err and "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_set_note_respond_and_show_history(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = ["--config", str(config)]
    argv = ["tickets", "set", "Q000001", "department=售后服务部", "assignee=wangfang", "complex=yes", "tags=登录,app"]
    assert main([*argv, "--reason", "客户来电", "--actor", "lihua", *c]) == 0
    assert main(["tickets", "note", "q000001", "老客户，优先处理", "--actor", "lihua", *c]) == 0
    assert main(["tickets", "respond", "Q000001", "--actor", "wangfang", "--note", "已回电", *c]) == 0
    mine = run_json(capsys, "tickets", "list", "--json", "--assignee", "wangfang", *c)
    assert [t["code"] for t in mine] == ["Q000001"]  # type: ignore[union-attr]
    assert run_json(capsys, "tickets", "list", "--json", "--department", "财务部", *c) == []
    record = _ticket(capsys, config)
    assert (record["department"], record["assignee"], record["complex"], record["tags"]) == ("售后服务部", "wangfang", True, ["app", "登录"])
    assert record["notes"] == [{"actor": "lihua", "at": record["notes"][0]["at"], "text": "老客户，优先处理"}]  # type: ignore[index]
    tail = [(e["kind"], e["new"], e["actor"], e["note"]) for e in record["events"]][-7:]  # type: ignore[attr-defined]
    assert tail == [
        ("field", "department=售后服务部", "lihua", "客户来电"),
        ("field", "assignee=wangfang", "lihua", "客户来电"),
        ("field", "complex=true", "lihua", "客户来电"),
        ("field", "tags=app,登录", "lihua", "客户来电"),
        ("note", None, "lihua", "老客户，优先处理"),
        ("responded", None, "wangfang", "已回电"),
        ("status", "processing", "wangfang", "首次响应 first response"),
    ]
    capsys.readouterr()
    assert main(["tickets", "show", "Q000001", *c]) == 0
    shown = capsys.readouterr().out
    assert "售后服务部" in shown and "备注 note" in shown and "— 客户来电" in shown
    assert main(["tickets", "set", "Q000001", "customer_name=张三", "customer_contact=13800138000", "--reason", "来电登记", *c]) == 0
    capsys.readouterr()
    assert main(["tickets", "show", "Q000001", *c]) == 0
    shown = capsys.readouterr().out
    assert "客户 customer: 张三" in shown and "联系方式 contact: 13800138000" in shown and "接收 received: 20" in shown


@pytest.mark.parametrize(
    ("argv", "code", "said"),
    [
        (["tickets", "set", "Q000001", "priority=L9", "--reason", "r"], 2, "priority"),
        (["tickets", "set", "Q000001", "owner=x", "--reason", "r"], 2, "未知字段"),
        (["tickets", "set", "Q000001", "priority=L1", "--reason", ""], 2, "--reason"),
        (["tickets", "set", "Q999999", "priority=L1", "--reason", "r"], 3, "Q999999"),
        (["tickets", "note", "Q000001", " "], 2, "备注不能为空"),
        (["tickets", "set-status", "Q000001", "closed"], 1, "允许：processing"),
        (["sla", "show", "Q999999"], 3, "Q999999"),
    ],
    ids=["bad-priority", "unknown-field", "no-reason", "no-ticket", "empty-note", "refused-move", "sla-no-ticket"],
)
def test_refusals_are_one_line(config: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int, said: str) -> None:
    assert said in _refused(capsys, [*argv, "--config", str(config)], code)


def test_state_machine_through_the_cli(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = ["--config", str(config)]
    for status in ("processing", "waiting-for-customer", "processing", "resolved", "reopened", "processing", "resolved", "closed"):
        assert main(["tickets", "set-status", "Q000001", status, "--actor", "wangfang", *c]) == 0, status
    assert "终态" in _refused(capsys, ["tickets", "set-status", "Q000001", "processing", *c], 1)
    statuses = [e["new"] for e in _ticket(capsys, config)["events"] if e["kind"] == "status"]  # type: ignore[attr-defined]
    assert statuses == ["processing", "waiting", "processing", "resolved", "reopened", "processing", "resolved", "closed"]


def test_sla_show_and_due_json(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = ["--config", str(config)]
    created = datetime.fromisoformat(_ticket(capsys, config)["events"][0]["at"])  # type: ignore[index]
    at = (created + timedelta(minutes=50)).isoformat()
    clocks = run_json(capsys, "sla", "show", "Q000001", "--json", "--at", at, *c)
    assert isinstance(clocks, list)
    first = next(r for r in clocks if r["clock"] == "first_response")
    assert (first["profile"], first["state"], first["phase"], first["target_minutes"], first["elapsed_minutes"]) == (
        "policy", "warning", "running", 60.0, 50.0,
    )  # fmt: skip  (L1: 24x7, one hour)
    assert datetime.fromisoformat(first["due_at"]) == created + timedelta(hours=1)
    assert {"code", "cycle", "paused_minutes", "percent", "started_at", "warn_at", "stopped_at"} <= set(first)
    due = run_json(capsys, "sla", "due", "--within", "30m", "--json", "--at", at, *c)
    assert [(r["code"], r["clock"]) for r in due] == [("Q000001", "first_response")]  # type: ignore[union-attr]
    assert main(["tickets", "respond", "Q000001", *c]) == 0
    after = run_json(capsys, "sla", "show", "Q000001", "--json", *c)  # the response is stamped now
    answered = next(r for r in after if r["clock"] == "first_response")  # type: ignore[union-attr]
    assert (answered["phase"], answered["state"]) == ("stopped", "ok")
    assert answered["stopped_at"] is not None
    capsys.readouterr()
    assert main(["sla", "due", "--within", "2h", *c]) == 0
    assert "clocks due within" in capsys.readouterr().out


def test_sla_calendar_reports_known_years_and_the_override(config: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    november = ["--at", "2026-11-29T10:00+08:00", "--config"]
    report = run_json(capsys, "sla", "calendar", "--json", *november, str(config))
    assert isinstance(report, dict)
    assert report["package_years"][0] == 2004 and 2026 in report["known_years"]
    assert (report["next_year_known"], report["override_years"]) == (False, [])
    assert report["warning"].startswith("【日历警告】2027")
    overrides = tmp_path / "days.yaml"
    overrides.write_text("years:\n  2027:\n    holidays: {2027-01-01: 元旦}\n", encoding="utf-8")
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["calendars"] = {"override_file": str(overrides)}
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    report = run_json(capsys, "sla", "calendar", "--json", *november, str(config))
    assert (report["next_year_known"], report["override_years"], report["warning"]) == (True, [2027], None)  # type: ignore[index]


def test_sla_refresh_writes_the_results_the_report_reads(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sqlalchemy import select

    from monitor.config import load_config
    from monitor.storage.db import Database
    from monitor.storage.models import SlaResult, Ticket

    c = ["--config", str(config)]
    db = Database(load_config(config).database_url)
    try:
        with db.read() as session:
            created = session.scalars(select(Ticket.created_at)).first()
        assert created is not None
        month = f"{created.year:04d}-{created.month:02d}"
        later = (created + timedelta(days=3)).isoformat()
        capsys.readouterr()
        assert main(["sla", "refresh", "--month", month, "--at", later, *c]) == 0
        assert "clock results written" in capsys.readouterr().out
        with db.read() as session:
            rows = session.scalars(select(SlaResult)).all()
        assert rows and any(r.clock == "first_response" and r.breached for r in rows)  # L1, unanswered 3 days
        assert main(["sla", "refresh", "--month", "2026-13", *c]) == 2
    finally:
        db.dispose()
