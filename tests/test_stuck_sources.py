"""A batch that breaks inside the pipeline is bisected, never retried for ever; sources that stay
broken or lose their path are reported to the operator once per episode.

The bisect path runs with a real files source, the real pipeline and SQLite; the poison is an
analyzer that raises for one message only, so the batch fails only inside the pipeline. The
infrastructure path uses a real unreachable PostgreSQL address (nothing listens on port 1).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from structlog.testing import capture_logs

from connectors.files import FilesConfig, FilesConnector
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.findings import Analysis
from monitor.ingest.bisect import is_infrastructure, process_resilient
from monitor.message import Batch, Checkpoint, Message
from monitor.pipeline import process_batch
from monitor.quarantine import retry_quarantined
from monitor.storage.db import Database
from monitor.storage.models import Alert, StoredMessage
from tests.helpers.builders import message, write_config, write_rules
from tests.helpers.context import context
from tests.helpers.poison import ANALYZER, poll_once

REPO = Path(__file__).resolve().parents[1]


class PoisonAnalyzer:
    """The test analyzer, except that it raises for the messages whose text contains ``poison``."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, msg: Message) -> Analysis:
        self.calls += 1
        if "poison" in msg.text:
            raise TypeError(f"analyzer cannot handle {msg.external_id}")
        return ANALYZER(msg)


def write_feed(folder: Path, poison_at: set[int], count: int = 1000) -> None:
    folder.mkdir(exist_ok=True)
    with (folder / "feed.jsonl").open("w", encoding="utf-8") as handle:
        for i in range(count):
            text = f"poison {i}" if i in poison_at else f"反馈 {i}"
            handle.write(json.dumps({"id": f"r{i}", "text": text, "thread": f"t{i % 40}"}, ensure_ascii=False) + "\n")


@pytest.mark.parametrize(
    ("poison_at", "batch_size"),
    [({500}, 500), ({3, 997}, 500), ({0}, 1000)],
    ids=["one-in-the-middle", "two-in-two-batches", "first-of-one-big-batch"],
)
def test_a_message_that_breaks_the_pipeline_is_found_by_bisection_and_quarantined(
    tmp_path: Path, sqlite_db: Database, poison_at: set[int], batch_size: int
) -> None:
    write_feed(tmp_path / "in", poison_at)
    connector = FilesConnector("feed", FilesConfig.model_validate({"path": tmp_path / "in", "settle_seconds": 0}))
    with capture_logs() as logs:
        polled = poll_once(sqlite_db, connector, analyzer=PoisonAnalyzer(), batch_size=batch_size)
    assert polled.stored == 1000 - len(poison_at)
    refs = sorted(raw_ref for _, raw_ref, _ in polled.quarantine)
    assert len(refs) == len(poison_at)
    for reason, raw_ref, raw in polled.quarantine:
        assert reason.startswith("pipeline error TypeError: analyzer cannot handle r"), reason
        stored = json.loads(raw)
        assert stored["text"].startswith("poison") and stored["raw_ref"] == raw_ref
    assert polled.checkpoint["files"]["feed.jsonl"]["offset"] == (tmp_path / "in" / "feed.jsonl").stat().st_size
    failed = [e for e in logs if e["event"] == "batch_failed"]
    assert failed and all(e.get("exc_info") for e in failed), "the failure is logged with its traceback"

    again = poll_once(sqlite_db, connector, analyzer=PoisonAnalyzer(), batch_size=batch_size)
    assert (again.stats.new, again.stats.fetched, len(again.quarantine)) == (0, 0, len(poison_at))


def test_a_database_that_is_down_is_retried_and_never_quarantines_input() -> None:
    down = Database("postgresql+psycopg://yuqing@127.0.0.1:1/yuqing?connect_timeout=2")
    calls: list[bool] = []

    def store(batch: Batch, advance: bool) -> Any:
        calls.append(advance)
        return process_batch(context(down, ANALYZER, []), "src", "files", batch, advance_checkpoint=advance)

    batch = Batch(tuple(message(f"m{i}") for i in range(8)), {"pos": 8})
    with pytest.raises(sa_exc.OperationalError) as raised:
        process_resilient(store, batch, source="src")
    assert is_infrastructure(raised.value)
    assert calls == [True], "no retry loop, no bisection: the batch waits for the database"
    down.dispose()


@pytest.mark.parametrize(
    ("error", "infrastructure"),
    [
        (sa_exc.OperationalError("SELECT 1", {}, Exception("server closed the connection")), True),
        (sa_exc.ProgrammingError("SELECT", {}, Exception("no such column")), True),
        (sa_exc.DataError("INSERT", {}, Exception("value too long")), False),
        (sa_exc.IntegrityError("INSERT", {}, Exception("NOT NULL")), False),
        (TypeError("bug"), False),
        (RecursionError("deep"), False),
    ],
    ids=["operational", "schema-behind", "data", "integrity", "type-error", "recursion"],
)
def test_what_counts_as_infrastructure(error: Exception, infrastructure: bool) -> None:
    assert is_infrastructure(error) is infrastructure


# -- the daemon: missing paths, stuck sources ------------------------------------------------------


def make_daemon(tmp_path: Path, folder: Path, **source: Any) -> Daemon:
    path = write_config(
        tmp_path / "c.yaml",
        {
            "state_dir": str(tmp_path),
            "logging": {"level": "warning"},
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "sources": [
                {"name": "drop", "kind": "files", "interval_seconds": 0.5,
                 "files": {"path": str(folder), "settle_seconds": 0}, **source}
            ],
            "alerts": {
                "targets": [{"name": "file", "kind": "jsonl", "jsonl": {"path": str(tmp_path / "a.jsonl")}}]
            },
        },
    )
    daemon = Daemon(path, load_config(path))
    daemon.runtime.db.upgrade()
    return daemon


def operator_notices(daemon: Daemon, state: str = "open") -> list[str]:
    """Title and errors of each operator notice in ``state`` (open / fixed), in order."""
    with daemon.runtime.db.read() as session:
        rows = session.scalars(select(Alert).where(Alert.kind == "operator").order_by(Alert.id))
        return [
            " | ".join([a.payload["title"], *a.payload.get("errors", [])])
            for a in rows
            if a.payload.get("state") == state
        ]


def poll_now(daemon: Daemon) -> Any:
    health = daemon.health.get("drop")
    if health is not None:
        health.not_before = 0  # skip the backoff wait
    return daemon.poll(daemon.runtime.config.sources[0])


def test_a_missing_folder_alerts_once_and_is_read_when_it_appears(tmp_path: Path) -> None:
    folder = tmp_path / "not-mounted"
    daemon = make_daemon(tmp_path, folder)
    with capture_logs() as logs:
        assert poll_now(daemon) is None
        assert poll_now(daemon) is None
    failed = [e for e in logs if e["event"] == "poll_failed"]
    assert len(failed) == 2 and "not-mounted does not exist" in failed[0]["error"]
    (title,) = operator_notices(daemon)
    assert "drop" in title and "not-mounted" in title
    write_feed(folder, set(), count=3)
    stats = poll_now(daemon)
    assert stats is not None and stats.new == 3, "the folder is noticed when it appears"
    assert daemon.health["drop"].failures == 0
    assert len(operator_notices(daemon, "fixed")) == 1, "one fixed notice when the path is back"


def test_run_once_exits_1_with_a_clear_line_when_the_folder_is_missing(tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path, tmp_path / "typo")
    path = daemon.config_path
    daemon.runtime.close()
    result = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "-c", str(path), "run", "--once"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    line = next(json.loads(x) for x in result.stdout.splitlines() if '"poll_failed"' in x)
    assert line["source"] == "drop" and "typo does not exist" in line["error"] and line["level"] == "error"


class Broken(FilesConnector):
    """A files source whose fetch hits an unexpected bug until ``healed`` is set."""

    def __init__(self, base: FilesConnector) -> None:
        super().__init__(base.name, base.config)
        self.healed = threading.Event()

    def fetch(
        self, checkpoint: Checkpoint | None, *, batch_size: int = 500, stop: threading.Event | None = None
    ) -> Iterator[Batch]:
        if not self.healed.is_set():
            raise KeyError("a bug outside any record")
        yield from super().fetch(checkpoint, batch_size=batch_size, stop=stop)


def test_a_stuck_source_raises_one_operator_alert_per_episode(tmp_path: Path) -> None:
    write_feed(tmp_path / "in", set(), count=2)
    daemon = make_daemon(tmp_path, tmp_path / "in", stuck_alert_intervals=2)
    broken = Broken(daemon.runtime.connectors["drop"])  # type: ignore[arg-type]
    daemon.runtime.connectors["drop"] = broken
    with capture_logs() as logs:
        poll_now(daemon)
        assert operator_notices(daemon) == [], "not stuck yet: interval x 2 has not passed"
        time.sleep(1.1)
        for _ in range(3):
            poll_now(daemon)
    (title,) = operator_notices(daemon)
    assert "drop" in title and "KeyError: a bug outside any record" in title
    assert "(2 polls)" in title, "raised at the first failure past interval x 2, not before or again"
    assert all(e.get("exc_info") for e in logs if e["event"] == "poll_failed"), "unexpected: traceback kept"
    broken.healed.set()
    assert poll_now(daemon) is not None
    assert len(operator_notices(daemon, "fixed")) == 1, "recovery closes the problem with one notice"
    broken.healed.clear()
    poll_now(daemon)
    time.sleep(1.1)
    poll_now(daemon)
    assert len(operator_notices(daemon)) == 2, "a new episode is a new alert"


def test_a_message_quarantined_by_the_pipeline_is_retried_under_its_own_id(tmp_path: Path) -> None:
    write_feed(tmp_path / "in", {7}, count=10)
    daemon = make_daemon(tmp_path, tmp_path / "in")
    db = daemon.runtime.db
    polled = poll_once(db, daemon.runtime.connectors["drop"], analyzer=PoisonAnalyzer())
    assert (polled.stored, len(polled.quarantine)) == (9, 1)

    (result,) = retry_quarantined(db, daemon.runtime.config, None)  # the real rules do not raise
    assert result[1] == "stored"
    with db.read() as session:
        stored = {m.external_id: m.text for m in session.scalars(select(StoredMessage))}
    assert stored["r7"] == "poison 7" and len(stored) == 10
