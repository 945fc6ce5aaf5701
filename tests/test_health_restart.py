"""A restarted daemon goes on from the health its predecessor kept in ``source_health``.

Two :class:`Daemon` instances one after the other on the same SQLite file and configuration, as a
restart has them (the first closed before the second starts); real time, seconds-long windows.
The first one's row is the only way the second can know when the source last had a new message,
last worked, or started failing: the silence alert, ``/readyz`` and ``yuqing status`` must all
count from then, not from the second process's start.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from monitor.cli_status import collect
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.health import SourceHealth, restore
from monitor.storage.health_state import SourceHealthRecord, load_source_health, save_source_health
from monitor.storage.models import Alert, SourceHealthRow, utcnow
from tests.helpers.builders import write_config, write_rules

QUIET = 6.0  # expect_messages_within of the silence test
GAP = 2.5  # seconds between the first daemon's stop and the second's start


def config(tmp_path: Path, sources: list[dict[str, Any]]) -> Path:
    return write_config(
        tmp_path / "c.yaml",
        {
            "state_dir": str(tmp_path),
            "logging": {"level": "warning"},
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "scheduler": {"ready_slack_seconds": 0},
            "sources": sources,
            "alerts": {"targets": [{"name": "ops", "kind": "jsonl", "jsonl": {"path": str(tmp_path / "a.jsonl")}}]},
        },
    )


def start(path: Path) -> Daemon:
    """A daemon process's start as ``run`` does it (schema, problems settled, health restored)."""
    daemon = Daemon(path, load_config(path))
    daemon.runtime.db.upgrade()
    daemon._settle_problems()
    return daemon


def stop(daemon: Daemon) -> None:
    daemon._release_leases()
    daemon.runtime.close()
    daemon.runtime.db.dispose()


def silent_told(daemon: Daemon) -> bool:
    with daemon.runtime.db.read() as session:
        rows = session.scalars(select(Alert).where(Alert.kind == "operator"))
        return any(a.payload["problem"] == "source-silent:mail" and a.payload["state"] == "open" for a in rows)


def row(daemon: Daemon, name: str) -> SourceHealthRow:
    with daemon.runtime.db.read() as session:
        return load_source_health(session)[name]


def test_a_source_silent_since_before_a_restart_is_told_when_its_quiet_period_ends(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    path = config(
        tmp_path,
        [{"name": "mail", "kind": "files", "expect_messages_within": QUIET,
          "files": {"path": str(folder), "settle_seconds": 0}}],
    )
    first = start(path)
    (folder / "a.jsonl").write_text(json.dumps({"id": "1", "text": "你好"}) + "\n", encoding="utf-8")
    stats = first.poll(first.runtime.config.sources[0])
    assert stats is not None and stats.new == 1
    last_new = row(first, "mail").last_new_at
    assert last_new is not None and utcnow() - last_new < timedelta(seconds=2)
    stop(first)

    time.sleep(GAP)
    second = start(path)
    try:
        assert second.health["mail"].last_new_at == last_new
        second.poll(second.runtime.config.sources[0])  # nothing new
        second.watch()
        if utcnow() - last_new < timedelta(seconds=QUIET - 0.5):
            assert not silent_told(second), "not silent for long yet"
        while utcnow() < last_new + timedelta(seconds=QUIET + 0.3):
            time.sleep(0.1)
        second.watch()
        assert silent_told(second), "silent for longer than its quiet period, counted from before the restart"
        # a clock started at this process's start would not have told yet
        assert time.monotonic() - second.started < QUIET
        assert row(second, "mail").last_new_at == last_new  # polls with nothing new keep it
    finally:
        stop(second)


def test_readyz_and_status_after_a_restart_show_a_source_stuck_since_before_it(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    sources = [
        {"name": "mail", "kind": "files", "interval_seconds": 1, "files": {"path": str(folder), "settle_seconds": 0}},
        {"name": "feed", "kind": "rss", "interval_seconds": 1,
         "rss": {"feeds": ["http://127.0.0.1:1/feed.xml"], "max_retries": 0, "backoff_base": 0.01}},
    ]
    path = config(tmp_path, sources)
    first = start(path)
    mail, feed = first.runtime.config.sources
    assert first.poll(mail) is not None
    assert first.poll(feed) is None  # nothing listens on port 1
    worked, failing = row(first, "mail").last_success_at, row(first, "feed").failing_since
    assert worked is not None and failing is not None and row(first, "feed").failures == 1
    stop(first)

    time.sleep(GAP)  # longer than 2 intervals + slack (0 s): both are late by now
    second = start(path)
    try:
        checks = {c.name: c for c in second.health_provider().readiness().checks}
        assert not checks["source:mail"].ok and "no successful poll for" in checks["source:mail"].detail
        assert not checks["source:feed"].ok and "Connect" in checks["source:feed"].detail
        assert second.health["feed"].failures == 1

        assert second.poll(second.runtime.config.sources[1]) is None  # still failing: the same episode
        kept = row(second, "feed")
        assert (kept.failures, kept.failing_since) == (2, failing)
        report = {s["source"]: s for s in collect(second.runtime.config)["sources"]}
        assert report["feed"]["state"] == "failing" and report["feed"]["failing_since"] == failing.isoformat(
            timespec="seconds"
        )
        assert report["mail"]["last_success"] == worked.isoformat(timespec="seconds")
        assert report["mail"]["lag_s"] >= GAP

        assert second.poll(second.runtime.config.sources[0]) is not None  # mail works: ready again
        checks = {c.name: c for c in second.health_provider().readiness().checks}
        assert checks["source:mail"].ok and not checks["source:feed"].ok
    finally:
        stop(second)


def test_a_source_paused_for_rejected_credentials_stays_paused_over_a_restart_and_is_probed_at_once(
    tmp_path: Path,
) -> None:
    """The row as the auth path writes it (Dovecot tests cover the path itself): after a restart
    ``/readyz`` says disabled before any probe, and the probe is due at once."""
    path = config(
        tmp_path,
        [{"name": "mail", "kind": "files", "files": {"path": str(tmp_path), "settle_seconds": 0}}],
    )
    first = start(path)
    since = utcnow() - timedelta(minutes=10)
    record = SourceHealthRecord("mail", since - timedelta(minutes=1), utcnow(), "AuthError: rejected", utcnow(), 4,
                                since, "AUTHENTICATIONFAILED")
    save_source_health(first.runtime.db, "old", record)
    stop(first)

    second = start(path)
    try:
        state = second.health["mail"]
        assert (state.disabled, state.failures, state.not_before) == ("AUTHENTICATIONFAILED", 4, 0.0)
        assert state.failing_since is not None and time.monotonic() - state.failing_since >= 600
        checks = {c.name: c for c in second.health_provider().readiness().checks}
        assert not checks["source:mail"].ok and "disabled" in checks["source:mail"].detail
    finally:
        stop(second)


def test_restore_counts_from_the_rows_wall_clock_times() -> None:
    now = utcnow()
    kept = SourceHealthRow(
        source="s", instance="a", last_success_at=now - timedelta(seconds=90), last_attempt_at=now,
        last_error=None, last_error_at=None, failures=0, failing_since=now - timedelta(seconds=5),
        disabled_reason=None, updated_at=now, last_new_at=now - timedelta(seconds=300),
    )
    state = restore(kept, now=now, mono=1000.0)
    assert (state.last_success_mono, state.last_new_mono) == (910.0, 700.0)
    assert state.failing_since is None and state.episode == ""  # no failures: a stale start is ignored
    assert restore(kept, now=now - timedelta(seconds=400), mono=1000.0).last_new_mono == 1000.0  # never ahead
    assert SourceHealth().last_new_at is None
