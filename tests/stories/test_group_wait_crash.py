"""SIGKILL during group_wait: the group timer is a row, so the restarted daemon sends the grouped
notification - exactly once - when it comes due."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from tests.helpers.builders import write_config, write_rules
from tests.helpers.daemon import DaemonProcess, scalar, wait_for
from tests.helpers.receiver import receiver

GROUP_WAIT = 6.0
POSTS = [f"转发//@用户{i}: 我要投诉，这家店的外卖里吃出了头发，客服不理人" for i in range(5)]


def config(tmp_path: Path, url: str) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    return write_config(
        tmp_path / "yuqing.yaml",
        {
            "instance": "group-wait",
            "state_dir": str(tmp_path / "state"),
            "logging": {"format": "json"},
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "scheduler": {"jitter_seconds": 0, "outbox_interval_seconds": 0.5},
            "sources": [
                {"name": "drop", "kind": "files", "interval_seconds": 0.5, "files": {"path": str(inbox)}}
            ],
            "alerts": {
                "escalation_interval_seconds": 0.5,
                "targets": [{"name": "pr", "kind": "webhook", "webhook": {"url": f"{url}/pr"}}],
                "route": {"receivers": ["pr"], "group_wait": f"{GROUP_WAIT}s", "group_interval": "1h"},
            },
        },
    )


def test_sigkill_during_group_wait_sends_the_grouped_notification_once_after_restart(tmp_path: Path) -> None:
    with receiver() as r:
        path = config(tmp_path, r.url)
        records = [{"id": str(i), "text": text, "thread": f"t{i}"} for i, text in enumerate(POSTS)]
        part = tmp_path / "inbox" / ".a.part"
        part.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in records), encoding="utf-8")
        part.rename(tmp_path / "inbox" / "a.jsonl")
        db = tmp_path / "state" / "yuqing.db"

        first = DaemonProcess(path, tmp_path / "first.log")
        try:
            wait_for(
                lambda: scalar(db, "select count(*) from stories where notify_at is not null") == 1,
                60,
                what="the story waiting out its group_wait",
            )
            assert scalar(db, "select count(*) from alerts") == 0, "nothing written before group_wait"
            first.signal(signal.SIGKILL)
            first.proc.wait(10)
        finally:
            first.kill()
        assert r.requests == [] and scalar(db, "select count(*) from messages") == len(POSTS)

        second = DaemonProcess(path, tmp_path / "second.log")
        try:
            wait_for(lambda: len(r.requests) >= 1, 60, what="the grouped notification after the restart")
            wait_for(lambda: scalar(db, "select count(*) from alerts where status = 'sent'") == 1, 30)
            code, _ = second.stop()
            assert code == 0
        finally:
            second.kill()
        assert len(r.requests) == 1, [q.json["step"] for q in r.requests]
        page = r.requests[0].json
        assert (page["kind"], page["step"], page["tickets"], page["messages"]) == ("ticket", "page:0:0", 5, 5)
        assert scalar(db, "select count(*) from alerts") == 1
        assert scalar(db, "select count(*) from stories where notify_at is not null") == 0
