"""A failing source is contained: auth failures pause it (re-probed later) with one operator alert,
others keep running."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select

from connectors.files import FilesConnector
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.errors import AuthError, UnavailableError
from monitor.message import Batch, Checkpoint
from monitor.storage.models import Alert, StoredMessage
from tests.helpers.builders import write_config, write_rules


class Failing(FilesConnector):
    def __init__(self, base: FilesConnector, error: Exception) -> None:
        super().__init__(base.name, base.config)
        self.error = error
        self.calls = 0

    def fetch(
        self, checkpoint: Checkpoint | None, *, batch_size: int = 500, stop: threading.Event | None = None
    ) -> Iterator[Batch]:
        self.calls += 1
        raise self.error


def make_daemon(tmp_path: Path) -> Daemon:
    sources = []
    for name in ("good", "bad"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "a.jsonl").write_text(json.dumps({"id": name, "text": "紧急"}) + "\n", encoding="utf-8")
        sources.append({"name": name, "kind": "files", "files": {"path": str(folder), "settle_seconds": 0}})
    path = write_config(
        tmp_path / "c.yaml",
        {
            "state_dir": str(tmp_path),
            "logging": {"level": "warning"},
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "sources": sources,
            "alerts": {
                "targets": [{"name": "file", "kind": "jsonl", "jsonl": {"path": str(tmp_path / "a.jsonl")}}]
            },
        },
    )
    daemon = Daemon(path, load_config(path))
    daemon.runtime.db.upgrade()
    return daemon


def operator_alerts(daemon: Daemon) -> list[dict[str, Any]]:
    with daemon.runtime.db.read() as session:
        return [a.payload for a in session.scalars(select(Alert).where(Alert.kind == "operator"))]


def test_revoked_credentials_disable_the_source_once_and_the_others_keep_running(tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path)
    bad = Failing(daemon.runtime.connectors["bad"], AuthError("401 Unauthorized: token revoked"))  # type: ignore[arg-type]
    daemon.runtime.connectors["bad"] = bad
    sources = {s.name: s for s in daemon.runtime.config.sources}
    for _ in range(3):
        daemon.poll(sources["bad"])
        daemon.poll(sources["good"])
    assert bad.calls == 1, "a disabled source is not polled again"
    (alert,) = operator_alerts(daemon)
    assert "bad" in alert["title"] and alert["problem"] == "source-auth:bad"
    assert alert["errors"] == ["401 Unauthorized: token revoked"]
    with daemon.runtime.db.read() as session:
        assert [m.external_id for m in session.scalars(select(StoredMessage))] == ["good"]
    assert daemon.health["bad"].disabled


def test_an_unavailable_source_backs_off_without_paging(tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path)
    bad = Failing(daemon.runtime.connectors["bad"], UnavailableError("503", retry_after=120))  # type: ignore[arg-type]
    daemon.runtime.connectors["bad"] = bad
    source = next(s for s in daemon.runtime.config.sources if s.name == "bad")
    daemon.poll(source)
    daemon.poll(source)
    assert bad.calls == 1, "the second poll falls inside the backoff"
    assert daemon.health["bad"].failures == 1 and not daemon.health["bad"].disabled
    assert operator_alerts(daemon) == []


def test_a_source_that_works_again_after_a_reload_sends_one_fixed_notice(tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path)
    good = daemon.runtime.connectors["bad"]
    daemon.runtime.connectors["bad"] = Failing(good, AuthError("401 Unauthorized"))  # type: ignore[arg-type]
    source = next(s for s in daemon.runtime.config.sources if s.name == "bad")
    daemon.poll(source)
    daemon.runtime.connectors["bad"] = good
    daemon.health.pop("bad")  # what a reload (SIGHUP) with fixed credentials does
    daemon.poll(source)
    daemon.poll(source)
    assert [(a["problem"], a["state"]) for a in operator_alerts(daemon)] == [
        ("source-auth:bad", "open"),
        ("source-auth:bad", "fixed"),
    ]


def test_a_missing_source_folder_is_told_once_and_fixed_when_it_is_back(tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path)
    source = next(s for s in daemon.runtime.config.sources if s.name == "good")
    folder = tmp_path / "good"
    folder.rename(tmp_path / "moved")
    for _ in range(3):
        daemon.poll(source)
    (tmp_path / "moved").rename(folder)
    daemon.poll(source)
    daemon.poll(source)
    notices = [(a["problem"], a["state"]) for a in operator_alerts(daemon)]
    assert notices == [("source-path:good", "open"), ("source-path:good", "fixed")]
    assert str(folder) in operator_alerts(daemon)[0]["errors"][0]


def test_a_paused_source_is_re_probed_with_backoff_and_recovers_without_a_reload(tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path)
    source = next(s for s in daemon.runtime.config.sources if s.name == "bad")
    source = source.model_copy(update={"interval_seconds": 1.0})  # re-probes within 1 s at most
    good = daemon.runtime.connectors["bad"]
    failing = Failing(good, AuthError("401 Unauthorized"))  # type: ignore[arg-type]
    daemon.runtime.connectors["bad"] = failing
    # each delay is bounded from both sides of the poll that set it, so a slow poll on a loaded
    # machine (the source-health row is written after the backoff is chosen) cannot move it
    lows: list[float] = []
    highs: list[float] = []
    for attempt in range(4):
        if attempt:
            time.sleep(max(0.0, daemon.health["bad"].not_before - time.monotonic()) + 0.01)
        before = time.monotonic()
        daemon.poll(source)
        after = time.monotonic()
        if attempt < 3:
            lows.append(daemon.health["bad"].not_before - before)
            highs.append(daemon.health["bad"].not_before - after)
    assert failing.calls == 4, "re-probed each time its backoff ran out"
    # from a quarter interval (equal jitter: at least half of it), capped at one interval
    assert all(low >= 0.1 for low in lows) and all(high <= 1.0 for high in highs), (lows, highs)
    daemon.runtime.connectors["bad"] = good
    time.sleep(max(0.0, daemon.health["bad"].not_before - time.monotonic()) + 0.01)
    assert daemon.poll(source) is not None
    assert daemon.health["bad"].disabled is None
    assert [(a["problem"], a["state"]) for a in operator_alerts(daemon)] == [
        ("source-auth:bad", "open"),
        ("source-auth:bad", "fixed"),
    ]
