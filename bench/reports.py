"""A month of metrics plus the monthly report from 1,000,000 tickets, on SQLite and PostgreSQL.

    .venv/bin/python bench/reports.py [--tickets 1000000] [--databases sqlite postgresql]
                                      [--keep DIR]   # reuse a seeded SQLite file between runs
                                      [--pg-keep NAME]  # reuse (or seed and keep) a PostgreSQL database

Seeds ``--tickets`` tickets over six months (``tests/helpers/seed.py``: ~4.4 event rows and one
analysed message per ticket; about 170,000 tickets fall in October 2026), then times, in the same
run and on the same database:

* ``count(*)``   ``SELECT COUNT(*) FROM tickets`` — a plain scan of the same table: the baseline;
* ``metrics``    ``month_stats`` for 2026-10 (what ``yuqing stats --period 2026-10 --json`` computes);
* ``report``     metrics + HTML with four SVG charts + CSV + Markdown (``yuqing report monthly``).

``ratio`` is the row's seconds over the same database's ``count(*)`` seconds. The target is
metrics + report ≤ 10 s on this machine (2 cores). PostgreSQL: 127.0.0.1:5432, user postgres,
trust; a throwaway database is created and dropped.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from monitor.reports.compute import month_stats  # noqa: E402
from monitor.reports.period import Month  # noqa: E402
from monitor.reports.render import write_report  # noqa: E402
from monitor.reports.settings import ReportsConfig  # noqa: E402
from monitor.storage.db import Database  # noqa: E402
from tests.helpers.seed import seed, seed_outcomes  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MONTH = Month(2026, 10)


@contextmanager
def database(kind: str, tickets: int, keep: Path | None, pg_keep: str | None = None) -> Iterator[Database]:
    if kind == "sqlite":
        folder = keep or Path(tempfile.mkdtemp(prefix="yq-bench-"))
        path = folder / f"reports-{tickets}-v2.db"  # v2: ticket ids in creation order (tests/helpers/seed.py)
        fresh = not path.exists()
        db = Database(f"sqlite:///{path}")
        db.upgrade()
        if fresh:
            _seed(db, tickets, kind)
        _seed_outcomes(db, kind)
        yield db
        db.dispose()
        if keep is None:
            for leftover in folder.glob("reports-*"):
                leftover.unlink()
        return
    name = pg_keep or f"yq_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if not exists:
            conn.execute(text(f"CREATE DATABASE {name}"))
    db = Database(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    try:
        db.upgrade()
        if not exists:
            _seed(db, tickets, kind)
        _seed_outcomes(db, kind)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # what autovacuum does after a bulk load (PostgreSQL >= 13 vacuums insert-only tables
            # too): statistics, and the visibility map index-only scans need. The local server
            # runs with autovacuum off, so the bench does it.
            conn.execute(text("VACUUM ANALYZE"))
        yield db
    finally:
        db.dispose()
        if pg_keep is None:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


def _seed(db: Database, tickets: int, kind: str) -> None:
    started = time.perf_counter()
    made = seed(db.engine, tickets, copy=True)  # PostgreSQL: COPY; SQLite: Core executemany
    print(f"# {kind}: seeded {made.tickets} tickets, {made.events} events, {made.messages} messages "
          f"in {time.perf_counter() - started:.0f} s", flush=True)


def _seed_outcomes(db: Database, kind: str) -> None:
    """SLA results, satisfaction and survey answers (the report's last three sections), once per
    seeded database (a kept file seeded before they were part of the bench gets them now)."""
    with db.engine.connect() as conn:
        if conn.execute(text("SELECT 1 FROM sla_results LIMIT 1")).first() is not None:
            return
    started = time.perf_counter()
    made = seed_outcomes(db.engine)
    print(f"# {kind}: seeded {made.sla_results} SLA results, {made.satisfaction} satisfaction and "
          f"{made.survey_answers} survey answers in {time.perf_counter() - started:.0f} s", flush=True)


Timing = tuple[float, float, float]  # wall seconds, CPU seconds, 1-minute load average at the end


def timed(action: object) -> Timing:
    """(wall seconds, CPU seconds of this process, load average): on the shared machine the wall
    time mostly measures the load; the CPU time is what the work costs here (SQLite runs in this
    process, all threads; PostgreSQL's own CPU is not in it)."""
    started, cpu = time.perf_counter(), time.process_time()
    action()  # type: ignore[operator]
    return time.perf_counter() - started, time.process_time() - cpu, os.getloadavg()[0]


def measure(db: Database, out: Path, repeat: int) -> list[tuple[str, Timing, str]]:
    """Each row ``repeat`` times, the fastest kept (the least disturbed by the other processes)."""
    config = ReportsConfig()

    def count() -> None:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT COUNT(*) FROM tickets")).scalar_one()

    count()  # warm the page cache the same way for every row
    baseline = min(timed(count) for _ in range(3))
    metrics = min(timed(lambda: month_stats(db.engine, config, MONTH)) for _ in range(repeat))
    report = min(timed(lambda: write_report(month_stats(db.engine, config, MONTH), out)) for _ in range(repeat))
    stats = month_stats(db.engine, config, MONTH)
    note = f"{stats.totals.tickets} tickets in {MONTH.label}"
    return [("count(*)", baseline, "all tickets"), ("metrics", metrics, note), ("report", report, "metrics + HTML/CSV/MD")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--keep", type=Path, help="keep/reuse the seeded SQLite file in this folder")
    parser.add_argument("--pg-keep", metavar="NAME", help="keep/reuse the seeded PostgreSQL database NAME")
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the fastest is shown (default 3)")
    args = parser.parse_args()
    rows: list[tuple[str, str, Timing, float, str]] = []
    load = [f"{x:.1f}" for x in os.getloadavg()]
    for kind in args.databases:
        with database(kind, args.tickets, args.keep, args.pg_keep) as db, tempfile.TemporaryDirectory() as out:
            measured = measure(db, Path(out), args.repeat)
        base = measured[0][1][0]
        rows += [(kind, name, timing, timing[0] / base, note) for name, timing, note in measured]
    print(f"\n{args.tickets:,} tickets; month {MONTH.label}; ratio = seconds / same database's count(*) seconds; "
          f"fastest of {args.repeat}")
    print(f"load average before {'/'.join(load)}, after {'/'.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min; 2 cores)\n")
    print(f"| {'database':<10} | {'row':<9} | {'seconds':>8} | {'ratio':>7} | {'cpu s':>6} | {'load':>5} | note")
    print(f"|{'-' * 12}|{'-' * 11}|{'-' * 10}|{'-' * 9}|{'-' * 8}|{'-' * 7}|------")
    for kind, name, (seconds, cpu, at_load), ratio, note in rows:
        verdict = "" if name == "count(*)" else (" (≤ 10 s)" if seconds <= 10 else " (OVER 10 s)")
        print(f"| {kind:<10} | {name:<9} | {seconds:8.2f} | {ratio:7.1f} | {cpu:6.2f} | {at_load:5.1f} | {note}{verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
