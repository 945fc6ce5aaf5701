"""/healthz, /readyz and /metrics over HTTP on 127.0.0.1, answered by a real daemon's provider."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.builders import write_config, write_rules
from tests.helpers.daemon import EmbeddedDaemon, wait_for
from tests.helpers.http_health import Served, serve_health


@pytest.fixture
def silent_feed() -> Iterator[str]:
    """A feed server that accepts connections and never answers: a poll of it hangs (stuck)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/feed.xml"
    sock.close()


def daemon_config(tmp_path: Path, *, stuck_url: str | None = None) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "a.jsonl").write_text(
        json.dumps({"id": "m1", "text": "紧急：设备冒烟"}) + "\n", encoding="utf-8"
    )
    sources: list[dict[str, Any]] = [
        {
            "name": "good",
            "kind": "files",
            "interval_seconds": 1,
            "files": {"path": str(folder), "settle_seconds": 0},
        }
    ]
    if stuck_url is not None:
        sources.append(
            {
                "name": "stuck",
                "kind": "rss",
                "interval_seconds": 1,
                "rss": {"feeds": [stuck_url], "timeout": 20},
            }
        )
    return write_config(
        tmp_path / "c.yaml",
        {
            "state_dir": str(tmp_path),
            "logging": {"level": "warning"},
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "scheduler": {"jitter_seconds": 0, "heartbeat_seconds": 0.5, "ready_slack_seconds": 1},
            "sources": sources,
            "alerts": {
                "targets": [{"name": "file", "kind": "jsonl", "jsonl": {"path": str(tmp_path / "a.jsonl")}}]
            },
        },
    )


def sample(served: Served, line_start: str) -> float | None:
    for line in served.get("/metrics").text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def until_status(served: Served, path: str, code: int) -> tuple[int, Any]:
    def answered() -> tuple[int, Any] | None:
        status, body = served.json(path)
        return (status, body) if status == code else None

    result: tuple[int, Any] = wait_for(answered, timeout=15, what=f"{path} -> {code}")
    return result


def test_a_stuck_source_makes_readyz_fail_naming_it_while_healthz_and_metrics_answer(
    tmp_path: Path, silent_feed: str
) -> None:
    with (
        EmbeddedDaemon(daemon_config(tmp_path, stuck_url=silent_feed)) as running,
        serve_health(running.daemon.health_provider()) as served,
    ):
        wait_for(lambda: served.get("/healthz").status_code == 200, timeout=15, what="healthz")
        wait_for(
            lambda: sample(served, 'yuqing_messages_total{outcome="stored",source="good"}') == 1.0,
            timeout=20,
            what="message counted",
        )
        # 2 intervals + 1 s slack after start, the silent feed has had no successful poll
        status, body = until_status(served, "/readyz", 503)
        wait_for(
            lambda: (
                sample(served, 'yuqing_notifications_total{outcome="sent",route="ticket",target="file"}')
                == 1.0
            ),
            timeout=20,
            what="notification counted",
        )
        metrics = served.get("/metrics")
        healthz = served.get("/healthz")
    assert status == 503 and body["status"] == "failing"
    failing = {f["check"]: f["detail"] for f in body["failing"]}
    assert list(failing) == ["source:stuck"], body
    assert "no successful poll" in failing["source:stuck"]
    passing = {c["check"] for c in body["checks"] if c["ok"]}
    assert {"database", "schema", "source:good"} <= passing
    assert healthz.status_code == 200 and healthz.json()["status"] == "ok"
    content_type = metrics.headers["content-type"]
    assert content_type.startswith("text/plain; version=") and content_type.count("charset=utf-8") == 1
    text = metrics.text
    for line in (
        "yuqing_database_up 1.0",
        "process_resident_memory_bytes",
        "yuqing_outbox_depth 0.0",
        'yuqing_source_disabled{source="stuck"} 0.0',
        'yuqing_polls_total{outcome="ok",source="good"}',
        'yuqing_poll_duration_seconds_count{source="good"}',
        'yuqing_analysis_seconds_count{source="good"} 1.0',
        'yuqing_tickets_created_total{source="good"} 1.0',
        'yuqing_source_lag_seconds{source="stuck"}',
        'yuqing_stories{kind="ticket",state="open"} 1.0',
    ):
        assert line in text, line


def test_readyz_passes_when_every_source_polls_and_healthz_fails_when_the_scheduler_stops(
    tmp_path: Path,
) -> None:
    with (
        EmbeddedDaemon(daemon_config(tmp_path)) as running,
        serve_health(running.daemon.health_provider()) as served,
    ):
        # /readyz gives a source that has not polled yet a grace period (2 intervals + slack) from
        # the start, so it can answer 200 before run_forever has made the scheduler paused below
        wait_for(
            lambda: running.daemon.scheduler is not None and served.get("/readyz").status_code == 200,
            timeout=15,
            what="ready, with the scheduler started",
        )
        ready = served.json("/readyz")[1]
        running.daemon.scheduler.pause()  # no job runs any more: a hung scheduler
        _, body = until_status(served, "/healthz", 503)
        running.daemon.scheduler.resume()
        wait_for(lambda: served.get("/healthz").status_code == 200, timeout=15, what="alive again")
    assert ready["status"] == "ok" and ready["failing"] == []
    assert [f["check"] for f in body["failing"]] == ["scheduler"]
    assert "hung" in body["failing"][0]["detail"]


def test_readyz_names_a_schema_behind_the_code(tmp_path: Path) -> None:
    from monitor.config import load_config
    from monitor.daemon import Daemon

    path = daemon_config(tmp_path)
    daemon = Daemon(path, load_config(path))
    daemon.runtime.db.upgrade()
    head = daemon.runtime.db.revisions()[-1]
    with serve_health(daemon.health_provider()) as served:
        ready = served.json("/readyz")
        daemon.runtime.db.downgrade("0009")  # an older schema under the running code
        behind = served.json("/readyz")
    daemon.runtime.close()
    assert ready[0] == 200, ready
    assert behind[0] == 503
    assert behind[1]["failing"] == [{"check": "schema", "detail": f"at 0009, code expects {head}"}]
