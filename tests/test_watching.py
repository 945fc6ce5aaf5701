"""Watching the watcher: silent sources, a failing RSSHub route, a stuck outbox, the heartbeat URL,
and delivery failures logged at warning with target and reason."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.storage.models import Alert
from tests.connectors.test_rss import FIXTURES, FeedServer, Route
from tests.helpers.builders import write_config, write_rules
from tests.helpers.daemon import EmbeddedDaemon, wait_for
from tests.helpers.receiver import receiver


def build(tmp_path: Path, sources: list[dict[str, Any]], **extra: Any) -> Daemon:
    data: dict[str, Any] = {
        "state_dir": str(tmp_path),
        "logging": {"level": "warning"},
        "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
        "sources": sources,
        "alerts": {"targets": [{"name": "ops", "kind": "jsonl", "jsonl": {"path": str(tmp_path / "a.jsonl")}}]},
    }
    for key, value in extra.items():
        data[key] = {**data.get(key, {}), **value}
    path = write_config(tmp_path / "c.yaml", data)
    daemon = Daemon(path, load_config(path))
    daemon.runtime.db.upgrade()
    return daemon


def problems(daemon: Daemon) -> list[tuple[str, str]]:
    with daemon.runtime.db.read() as session:
        rows = session.scalars(select(Alert).where(Alert.kind == "operator").order_by(Alert.id))
        return [(a.payload["problem"], a.payload["state"]) for a in rows]


def files_source(tmp_path: Path, name: str, **extra: Any) -> dict[str, Any]:
    folder = tmp_path / name
    folder.mkdir()
    return {"name": name, "kind": "files", "files": {"path": str(folder), "settle_seconds": 0}, **extra}


def test_a_source_silent_beyond_its_quiet_period_is_told_once_and_fixed_by_the_next_message(
    tmp_path: Path,
) -> None:
    daemon = build(
        tmp_path,
        [files_source(tmp_path, "quiet", expect_messages_within=1), files_source(tmp_path, "chatty")],
    )
    quiet, chatty = daemon.runtime.config.sources
    daemon.poll(quiet)
    daemon.poll(chatty)
    daemon.watch()
    assert problems(daemon) == [], "not silent for long yet"
    time.sleep(1.2)
    daemon.watch()
    daemon.watch()
    (tmp_path / "quiet" / "a.jsonl").write_text(json.dumps({"id": "1", "text": "你好"}) + "\n", encoding="utf-8")
    daemon.poll(quiet)
    daemon.watch()
    assert problems(daemon) == [("source-silent:quiet", "open"), ("source-silent:quiet", "fixed")]


@pytest.fixture
def rsshub() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


def test_an_rsshub_route_that_starts_failing_is_its_own_problem_while_the_other_routes_work(
    tmp_path: Path, rsshub: FeedServer
) -> None:
    body = (FIXTURES / "weibo_rsshub.xml").read_bytes()
    rsshub.routes["/weibo/user/1"] = Route(body=body)
    rsshub.routes["/zhihu/people/2"] = Route(body=body)
    source = {
        "name": "social",
        "kind": "rss",
        "interval_seconds": 0.5,
        "stuck_alert_intervals": 1,
        "rss": {
            "rsshub_base_url": rsshub.base,
            "feeds": [{"route": "/weibo/user/1"}, {"route": "/zhihu/people/2"}],
            "max_retries": 0,
            "backoff_base": 0.01,
        },
    }
    daemon = build(tmp_path, [source])
    (social,) = daemon.runtime.config.sources
    assert daemon.poll(social) is not None
    rsshub.routes["/zhihu/people/2"] = Route(body=b"<html>Too Many Requests</html>", status=503)
    daemon.poll(social)
    assert problems(daemon) == [], "one failure is not a problem yet"
    time.sleep(0.6)
    daemon.poll(social)
    time.sleep(0.1)
    daemon.poll(social)
    opened = problems(daemon)
    rsshub.routes["/zhihu/people/2"] = Route(body=body)
    time.sleep(0.1)
    assert daemon.poll(social) is not None
    assert opened == [("source-feed:social:/zhihu/people/2", "open")], "one problem, no source-stuck"
    assert problems(daemon) == [
        ("source-feed:social:/zhihu/people/2", "open"),
        ("source-feed:social:/zhihu/people/2", "fixed"),
    ]
    with daemon.runtime.db.read() as session:
        (alert,) = session.scalars(select(Alert).where(Alert.kind == "operator").limit(1))
    assert "HTTP 503" in alert.payload["errors"][0]


def test_an_outbox_that_stops_draining_is_told_and_fixed_when_it_drains(tmp_path: Path) -> None:
    source = files_source(tmp_path, "mail")
    (tmp_path / "mail" / "a.jsonl").write_text(json.dumps({"id": "1", "text": "紧急"}) + "\n", encoding="utf-8")
    daemon = build(tmp_path, [source], alerts={"outbox_stuck_seconds": 1})
    before = time.monotonic()
    daemon.poll(daemon.runtime.config.sources[0])  # a page waits in the outbox; nothing delivers it
    daemon.watch()
    if time.monotonic() - before < 0.9:  # (a loaded machine may take longer than the limit itself)
        assert problems(daemon) == []
    time.sleep(1.2)
    daemon.watch()
    daemon.watch()
    assert problems(daemon) == [("outbox-stuck", "open")]
    daemon.deliver()
    daemon.watch()
    assert problems(daemon) == [("outbox-stuck", "open"), ("outbox-stuck", "fixed")]


def test_the_heartbeat_url_is_pinged_while_the_scheduler_runs_and_not_when_it_stops(tmp_path: Path) -> None:
    with receiver() as dead_mans_switch:
        url = f"{dead_mans_switch.url}/ping/0f6a2c7e-check"
        daemon = build(
            tmp_path,
            [files_source(tmp_path, "mail")],
            scheduler={"heartbeat_url": url, "heartbeat_url_seconds": 0.3, "heartbeat_seconds": 0.2},
        )
        path = daemon.config_path
        with EmbeddedDaemon(path) as running:
            wait_for(lambda: len(dead_mans_switch.requests) >= 3, timeout=15, what="pings")
            running.daemon.scheduler.pause()  # a hung scheduler
            time.sleep(0.5)
            stopped_at = len(dead_mans_switch.requests)
            time.sleep(1.5)
            after_pause = len(dead_mans_switch.requests)
            running.daemon.scheduler.resume()
            wait_for(lambda: len(dead_mans_switch.requests) > after_pause, timeout=15, what="pings again")
    assert after_pause == stopped_at, "no ping while the scheduler makes no progress"
    assert {r.path for r in dead_mans_switch.requests} == {"/ping/0f6a2c7e-check"}


def test_a_failed_delivery_is_logged_at_warning_with_target_and_reason(tmp_path: Path) -> None:
    with receiver() as hook:
        hook.script = [(500, "boom")]
        source = files_source(tmp_path, "mail")
        (tmp_path / "mail" / "a.jsonl").write_text(json.dumps({"id": "1", "text": "紧急"}) + "\n", encoding="utf-8")
        daemon = build(
            tmp_path,
            [source],
            alerts={"targets": [{"name": "hook", "kind": "webhook", "webhook": {"url": f"{hook.url}/h"}}]},
        )
        daemon.poll(daemon.runtime.config.sources[0])
        with capture_logs() as logs:
            daemon.deliver()
    (retry,) = [e for e in logs if e["event"] == "alert_retry"]
    assert retry["log_level"] == "warning" and retry["target"] == "hook" and "500" in retry["reason"]
