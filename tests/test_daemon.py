"""The daemon as operators run it: a subprocess, real files, real signals."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.builders import write_config, write_rules
from tests.helpers.daemon import ROOT, DaemonProcess, scalar, wait_for, yuqing


def setup(tmp_path: Path, **source_options: Any) -> tuple[Path, Path]:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    rules = write_rules(tmp_path / "rules")
    config = write_config(
        tmp_path / "yuqing.yaml",
        {
            "instance": "test",
            "state_dir": str(tmp_path / "state"),
            "logging": {"format": "json"},
            "rules": {"paths": [str(rules)], "watch_seconds": 0.5},
            "scheduler": {"jitter_seconds": 0, "outbox_interval_seconds": 0.5},
            "sources": [
                {
                    "name": "drop",
                    "kind": "files",
                    "interval_seconds": 0.5,
                    "files": {"path": str(inbox), "settle_seconds": 0, **source_options},
                }
            ],
            "alerts": {
                "targets": [
                    {"name": "file", "kind": "jsonl", "jsonl": {"path": str(tmp_path / "alerts.jsonl")}}
                ]
            },
        },
    )
    return config, inbox


def drop(inbox: Path, name: str, records: list[dict[str, Any]]) -> None:
    tmp = inbox / f".{name}.part"
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    tmp.rename(inbox / name)


def alerts(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "alerts.jsonl"
    return (
        [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []
    )


def test_run_once_polls_delivers_and_exits(tmp_path: Path) -> None:
    config, inbox = setup(tmp_path)
    drop(
        inbox,
        "a.jsonl",
        [{"id": "1", "text": "紧急：电池起火", "thread": "t1"}, {"id": "2", "text": "hi", "thread": "t2"}],
    )
    result = yuqing("run", "--once", "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    db = tmp_path / "state" / "yuqing.db"
    assert scalar(db, "select count(*) from messages") == 2
    assert scalar(db, "select count(*) from tickets") == 2
    # only ticket pages: in November and December the SLA job adds the operator's calendar warning
    assert [(a["ticket"], a["priority"]) for a in alerts(tmp_path) if a["kind"] == "ticket"] == [("Q000001", "L1")]
    again = yuqing("run", "--once", "--config", str(config))
    assert again.returncode == 0
    assert scalar(db, "select count(*) from messages") == 2
    assert len([a for a in alerts(tmp_path) if a["kind"] == "ticket"]) == 1


def test_run_refuses_to_start_on_an_invalid_config(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("sources:\n  - name: x\n    kind: files\n    files: {}\n", encoding="utf-8")
    result = yuqing("run", "--config", str(config))
    assert result.returncode == 2
    assert f"{config}:4 sources[0].files.path: Field required" in result.stderr


def test_daemon_picks_up_dropped_files_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    config, inbox = setup(tmp_path)
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    try:
        db = tmp_path / "state" / "yuqing.db"
        drop(inbox, "a.jsonl", [{"id": "1", "text": "我要投诉", "thread": "t1"}])
        wait_for(lambda: alerts(tmp_path), what="first alert")
        drop(inbox, "b.jsonl", [{"id": "2", "text": "紧急!", "thread": "t1"}])
        wait_for(lambda: len(alerts(tmp_path)) == 2, what="escalation alert")
        assert [(a["ticket"], a["priority"]) for a in alerts(tmp_path)] == [
            ("Q000001", "L2"),
            ("Q000001", "L1"),
        ]
        assert scalar(db, "select count(*) from tickets") == 1
        code, seconds = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0
    assert seconds < 10
    polls = [e for e in daemon.events() if e.get("event") == "poll"]
    assert polls and set(polls[0]) >= {
        "source",
        "fetched",
        "new",
        "duplicates",
        "quarantined",
        "tickets",
        "alerts",
        "duration_ms",
    }


def test_sighup_keeps_the_old_config_when_the_new_one_is_invalid_and_applies_a_valid_one(
    tmp_path: Path,
) -> None:
    config, inbox = setup(tmp_path)
    good = config.read_text(encoding="utf-8")
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    try:
        wait_for(lambda: any(e.get("event") == "started" for e in daemon.events()), what="start")
        config.write_text(good.replace("kind: files", "kind: nonsense"), encoding="utf-8")
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: any(e.get("event") == "reload_rejected" for e in daemon.events()), what="rejection")
        drop(inbox, "a.jsonl", [{"id": "1", "text": "紧急", "thread": "t1"}])
        wait_for(lambda: alerts(tmp_path), what="alert under the old config")
        second = tmp_path / "inbox2"
        second.mkdir()
        config.write_text(
            good.replace(
                "sources:\n",
                f"sources:\n- name: second\n  kind: files\n  interval_seconds: 0.5\n  files:\n    path: {second}\n    settle_seconds: 0\n",
            ),
            encoding="utf-8",
        )
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: any(e.get("event") == "reloaded" for e in daemon.events()), what="reload")
        drop(second, "b.jsonl", [{"id": "9", "text": "投诉", "thread": "x"}])
        wait_for(lambda: len(alerts(tmp_path)) == 2, what="alert from the new source")
        assert daemon.proc.poll() is None
    finally:
        daemon.kill()
    issues = [e["issue"] for e in daemon.events() if e.get("event") == "config_invalid"]
    assert any("sources[0].kind: unknown kind 'nonsense'" in i for i in issues)


def test_a_broken_rule_file_keeps_the_old_rules_and_a_fixed_one_is_picked_up(tmp_path: Path) -> None:
    config, inbox = setup(tmp_path)
    rules = tmp_path / "rules"
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    try:
        wait_for(lambda: any(e.get("event") == "started" for e in daemon.events()), what="start")
        (rules / "new.yaml").write_text(
            "rules:\n  - id: n.refund\n    keywords: {any: [退款]}\n    unknown: 1\n"
        )
        wait_for(lambda: any(e.get("event") == "rules_invalid" for e in daemon.events()), what="rules error")
        drop(inbox, "a.jsonl", [{"id": "1", "text": "紧急 退款", "thread": "t1"}])
        wait_for(
            lambda: any(a.get("ticket") == "Q000001" for a in alerts(tmp_path)), what="alert under old rules"
        )
        operator = [a for a in alerts(tmp_path) if a.get("kind") == "operator"]
        assert len(operator) == 1 and "new.yaml" in operator[0]["title"]
        (rules / "new.yaml").write_text(
            "rules:\n  - id: n.refund\n    keywords: {any: [退款]}\n    priority: L2\n    alert: true\n",
            encoding="utf-8",
        )
        wait_for(lambda: any(e.get("event") == "rules_reloaded" for e in daemon.events()), what="reload")
        drop(inbox, "b.jsonl", [{"id": "2", "text": "我要退款", "thread": "t2"}])
        wait_for(
            lambda: any(a.get("ticket") == "Q000002" for a in alerts(tmp_path)),
            what="alert from the new rule",
        )
    finally:
        daemon.kill()
    new_alert = next(a for a in alerts(tmp_path) if a.get("ticket") == "Q000002")
    assert new_alert["rules"] == ["n.refund"]


@pytest.mark.slow
def test_demo_configuration_shows_tickets_and_an_urgent_alert(tmp_path: Path) -> None:
    result = yuqing(
        "run", "--once", "--config", str(ROOT / "config" / "demo.yaml"), env={"YUQING_STATE": str(tmp_path)}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "【L1" in result.stderr  # the console alert, Chinese first
    lines = [
        json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert any(a["priority"] == "L1" for a in lines)
    assert scalar(tmp_path / "yuqing.db", "select count(*) from tickets") >= 5


def test_the_sla_job_is_scheduled_every_minute_and_queues_through_the_outbox(tmp_path: Path) -> None:
    from monitor.config import load_config
    from monitor.daemon import Daemon
    from monitor.scheduler import SLA_INTERVAL_SECONDS, SLA_JOB

    config, _inbox = setup(tmp_path)
    daemon = Daemon(config, load_config(config))
    daemon.runtime.db.upgrade()
    try:
        daemon._start_scheduler()
        job = daemon.scheduler.get_job(SLA_JOB)
        assert job is not None and job.trigger.interval.total_seconds() == SLA_INTERVAL_SECONDS
        daemon.check_sla()  # nothing open: a quiet run that still refreshes the calendar table
    finally:
        if daemon.scheduler is not None:
            daemon.scheduler.shutdown(wait=False)
        daemon.runtime.close()


def _shift_back(db: Path, code: str, by: timedelta) -> None:
    """Move a ticket and its events into the past (as if it had waited ``by`` without an answer)."""
    with sqlite3.connect(db) as conn:
        (ticket_id,) = conn.execute("select id from tickets where code = ?", (code,)).fetchone()
        for table, key in (("tickets", "id"), ("ticket_events", "ticket_id"), ("messages", "ticket_id")):
            column = "at" if table == "ticket_events" else "created_at"
            rows = conn.execute(f"select rowid, {column} from {table} where {key} = ?", (ticket_id,)).fetchall()
            for rowid, value in rows:
                moved = datetime.fromisoformat(value) - by
                conn.execute(f"update {table} set {column} = ? where rowid = ?", (f"{moved:%Y-%m-%d %H:%M:%S.%f}", rowid))


def test_run_once_runs_the_sla_and_follow_up_jobs_after_the_sources(tmp_path: Path) -> None:
    """Cron's ``run --once`` is one full cycle: an L1 ticket unanswered for two hours (24×7 clock,
    first response ≤ 1 h) gets its SLA breach alert, a resolved ticket its satisfaction follow-up."""
    config, inbox = setup(tmp_path)
    drop(
        inbox,
        "a.jsonl",
        [{"id": "1", "text": "紧急：电池起火", "thread": "t1"}, {"id": "2", "text": "发票什么时候开", "thread": "t2"}],
    )
    first = yuqing("run", "--once", "--config", str(config))
    assert first.returncode == 0, first.stdout + first.stderr
    db = tmp_path / "state" / "yuqing.db"
    assert scalar(db, "select count(*) from sla_notices where kind = 'sla-breach'") == 0
    _shift_back(db, "Q000001", timedelta(hours=2))
    resolved = yuqing("tickets", "set-status", "Q000002", "resolved", "--actor", "admin", "--config", str(config))
    assert resolved.returncode == 0, resolved.stdout + resolved.stderr
    assert scalar(db, "select count(*) from followups") == 0

    again = yuqing("run", "--once", "--config", str(config))
    assert again.returncode == 0, again.stdout + again.stderr
    breaches = [(a["ticket"], a["clock"], a["level"]) for a in alerts(tmp_path) if a["kind"] == "sla"]
    assert breaches == [("Q000001", "first_response", "breach")]
    assert scalar(db, "select count(*) from sla_notices where kind = 'sla-breach' and ticket_id = 1") == 1
    assert scalar(db, "select count(*) from followups f join tickets t on t.id = f.ticket_id where t.code = 'Q000002'") == 1
    pending = yuqing("feedback", "pending", "--json", "--config", str(config))
    assert [row["ticket"] for row in json.loads(pending.stdout)] == ["Q000002"], pending.stdout + pending.stderr

    third = yuqing("run", "--once", "--config", str(config))  # nothing new: no second breach, no second follow-up
    assert third.returncode == 0, third.stdout + third.stderr
    assert scalar(db, "select count(*) from sla_notices where kind = 'sla-breach'") == 1
    assert scalar(db, "select count(*) from followups") == 1
    assert len([a for a in alerts(tmp_path) if a["kind"] == "sla"]) == 1


def test_sigterm_does_not_wait_for_a_poll_stuck_on_a_database_lock(tmp_path: Path) -> None:
    """A poll blocked by a lock another process holds (SQLite's busy wait is 30 s; a stalled
    peer's row lock on MariaDB 50 s) must not keep the daemon alive past its stop timeout; the
    batch it was storing is read again by the next run, once."""
    config, inbox = setup(tmp_path)
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    settings["scheduler"]["shutdown_timeout_seconds"] = 1
    config.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    db = tmp_path / "state" / "yuqing.db"
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    holder: sqlite3.Connection | None = None
    try:
        drop(inbox, "a.jsonl", [{"id": "1", "text": "我要投诉", "thread": "t1"}])
        wait_for(lambda: scalar(db, "select count(*) from messages") == 1, what="first message stored")
        holder = sqlite3.connect(db, isolation_level=None, timeout=30)
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        drop(inbox, "b.jsonl", [{"id": "2", "text": "紧急!", "thread": "t2"}])
        time.sleep(2.0)  # polled every 0.5 s: the poll that read b.jsonl is waiting for the lock
        code, seconds = daemon.stop(timeout=15)
    finally:
        daemon.kill()
        if holder is not None:
            holder.execute("ROLLBACK")
            holder.close()
    assert code == 0
    assert seconds < 6, f"stop took {seconds:.1f} s"
    assert any(e.get("event") == "stop_timeout" for e in daemon.events())
    assert scalar(db, "select count(*) from messages") == 1  # the stuck batch committed nothing
    assert yuqing("--config", str(config), "run", "--once").returncode == 0
    assert scalar(db, "select count(*) from messages") == 2
    assert scalar(db, "select count(distinct external_id) from messages") == 2

