"""Cost of one ``/metrics`` scrape (the scrape-time database gauges) on a large database (issue 17).

Seeds SQLite with N notifications (almost all sent, 50 pending), N/10 incidents and N/10 stories
(2 % open or acknowledged, the rest resolved) and N/100 quarantine rows, then times, in the same run (median of 20):

- baseline: ``SELECT COUNT(*) FROM alerts`` (one full count of the outbox table);
- scrape: ``generate_latest`` of the daemon's registry with the database collector (outbox depth
  and oldest age, quarantine, incidents and stories by state, per-source gauges, process_*);
- the same scrape on an empty database (first row): the scrape should not grow with the tables.

Run: .venv/bin/python bench/metrics_scrape.py [--sizes 100000 1000000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from prometheus_client import generate_latest
from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.health_metrics import DatabaseCollector
from monitor.metrics import Metrics
from monitor.storage.db import Database
from monitor.storage.models import Alert, Incident, QuarantineItem, Source, Story

NOW = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
CHUNK = 20_000


def _chunks(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [rows[i : i + CHUNK] for i in range(0, len(rows), CHUNK)]


def seed(db: Database, count: int) -> None:
    states = ["open", "acknowledged", *["resolved"] * 98]  # 2 % active, as in a long-running install
    with db.transaction() as session:
        source = Source(name="bench", kind="files")
        session.add(source)
        session.flush()
        source_id = source.id
    alerts = [
        {
            "dedupe_key": f"k{i}", "target": f"t{i % 5}", "kind": "ticket", "payload": {},
            "status": "pending" if i < 50 else "sent", "attempts": 1,
            "created_at": NOW - timedelta(seconds=i), "next_attempt_at": NOW - timedelta(seconds=i),
        }
        for i in range(count)
    ]
    incidents = [
        {
            "state": states[i % len(states)], "severity": "L2", "first_seen": NOW, "last_seen": NOW, "opened_at": NOW,
            "updated_at": NOW, "sources": [], "attributes": {}, "message_count": 1, "heat": 0.0, "reach": 0,
            "escalation_step": 0, "page_round": 0, "title": "", "reason": "",
        }
        for i in range(count // 10)
    ]
    stories = [
        {"kind": "ticket", "state": states[i % len(states)], "opened_at": NOW, "updated_at": NOW, "receivers": [],
         "subject": {}, "tickets": []}
        for i in range(count // 10)
    ]
    quarantine = [
        {"source_id": source_id, "reason": "bad", "raw": b"x", "raw_size": 1, "status": "pending", "created_at": NOW}
        for _ in range(count // 100)
    ]
    for model, rows in ((Alert, alerts), (Incident, incidents), (Story, stories), (QuarantineItem, quarantine)):
        for chunk in _chunks(rows):
            with db.transaction() as session:
                session.execute(insert(model), chunk)


def median_ms(action: Any, rounds: int = 20) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run(size: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        db.upgrade()
        seed(db, size)
        runtime = SimpleNamespace(db=db, config=SimpleNamespace(sources=[]))
        metrics = Metrics()
        metrics.registry.register(DatabaseCollector(lambda: runtime, dict, started=time.monotonic()))  # type: ignore[arg-type,return-value]

        def baseline() -> None:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT COUNT(*) FROM alerts")).scalar()

        base = median_ms(baseline)
        scrape = median_ms(lambda: generate_latest(metrics.registry))
        assert f"yuqing_outbox_depth {min(size, 50)}.0".encode() in generate_latest(metrics.registry)
        db.dispose()
        return base, scrape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    print(f"{'alerts':>10} {'COUNT(*) ms':>12} {'scrape ms':>10} {'vs empty':>9}")
    empty = None
    for size in [0, *args.sizes]:
        base, scrape = run(size)
        empty = empty or scrape
        print(f"{size:>10,} {base:>12.2f} {scrape:>10.2f} {scrape / empty:>9.2f}")


if __name__ == "__main__":
    main()
