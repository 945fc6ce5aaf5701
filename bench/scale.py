"""Throughput of 1, 2 and 3 daemon instances on one PostgreSQL database versus 1 on SQLite, next to
each database's own batched-INSERT ceiling, measured in the same run; and the full-size
multi-instance fault run.

    .venv/bin/python bench/scale.py [--messages 20000] [--sources 20] [--batch-size 200]
    .venv/bin/python bench/scale.py --fault [--databases postgresql mariadb] [--messages 50000]
                                            [--kill-every 20]

Throughput: ``--messages`` generated feedback messages (``tests/helpers/workload.py``, ~5 %
alerting) in ``--sources`` ``files`` sources. The instances (real ``yuqing run`` subprocesses,
``analysis.workers: 1`` each, a webhook target on a local receiver) start first; once every one
has logged ``started`` all files are dropped into the source folders at once, and the clock runs
until every message is stored (read from the database). Sources are shared between the instances
by their leases (fair share). Ceiling: SQLAlchemy Core ``executemany`` of the same rows into the
real ``messages`` table in ``--batch-size`` transactions, one connection, nothing else.

``--fault``: ``tests/test_multi_instance.py`` at full size - 3 instances, 20 sources, 50,000
messages, one instance SIGKILLed every ``--kill-every`` seconds and restarted - then the same
checks (0 lost, 0 duplicates, 0 duplicate tickets, every notification once by idempotency key,
takeover within lease expiry + one poll interval).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Table, create_engine, insert, text  # noqa: E402 - after the path set-up

from tests.helpers.cluster import (  # noqa: E402 - needs ROOT on the path
    CountingReceiver,
    Feeder,
    Instance,
    SourceData,
    make_sources,
    prepare_rules,
    write_instance_config,
)
from tests.helpers.databases import SERVERS, throwaway_database  # noqa: E402 - needs ROOT on the path


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A fresh database: a SQLite file, or a throwaway database on the local server (dropped after)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'yuqing-{uuid.uuid4().hex[:6]}.db'}"
        return
    with throwaway_database(kind, "yq_scale_") as url:
        yield url


def _count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM messages")).scalar() or 0)
    finally:
        engine.dispose()


def throughput(base: Path, kind: str, instances: int, args: argparse.Namespace) -> dict[str, Any]:
    """Messages per second for ``instances`` daemons sharing one database of ``kind``."""
    from monitor.storage.db import Database

    run = Path(tempfile.mkdtemp(prefix=f"{kind}-{instances}-", dir=base))
    data = make_sources(run, sources=args.sources, messages=args.messages, files_per_source=2, seed=7)
    rules = prepare_rules(run)
    receiver = CountingReceiver()
    receiver.thread.start()
    procs: list[Instance] = []
    try:
        with database(kind, run) as url:
            schema = Database(url)
            schema.upgrade()
            schema.dispose()
            for n in range(1, instances + 1):
                config = write_instance_config(
                    run / f"i{n}" / "yuqing.yaml",
                    instance=f"i{n}",
                    url=url,
                    data=data,
                    rules=rules,
                    hook=f"{receiver.url}/hook",
                    lease_seconds=10,
                    interval=0.5,
                    batch_size=args.batch_size,
                )
                procs.append(Instance(f"i{n}", config))
                procs[-1].start()
            deadline = time.monotonic() + 120
            while not all(p.started() for p in procs):
                if time.monotonic() > deadline or any(not p.alive for p in procs):
                    raise RuntimeError("an instance did not start:\n" + "\n".join(p.tail() for p in procs))
                time.sleep(0.2)
            time.sleep(2 * 0.5 + 1)  # every instance has registered and taken its share of the sources
            feeder = Feeder(data, 0, seed=7)
            started = time.perf_counter()
            feeder.run()
            while (stored := _count(url)) < args.messages:
                if time.perf_counter() - started > args.timeout:
                    raise RuntimeError(f"{kind} x{instances}: {stored}/{args.messages} after {args.timeout} s")
                time.sleep(0.1)
            seconds = time.perf_counter() - started
            for p in procs:
                p.stop()
            return {"messages": args.messages, "seconds": seconds, "rate": args.messages / seconds}
    finally:
        for p in procs:
            p.kill()
        receiver.server.shutdown()
        receiver.server.server_close()


def _rows(data: list[SourceData]) -> list[dict[str, Any]]:
    import json
    from datetime import UTC, datetime

    rows: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    for item in data:
        for path in item.work.files:
            for line in path.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                rows.append(
                    {
                        "source_id": 1,
                        "external_id": f"{item.name}/{record['id']}",
                        "thread_key": record["thread"],
                        "channel": "feedback",
                        "author_id": record["author"],
                        "author_name": record["author"],
                        "title": "",
                        "text": record["text"],
                        "likes": 0,
                        "reposts": 0,
                        "replies": 0,
                        "raw_ref": path.name,
                        "flags": "",
                        "created_at": now,
                        "ingested_at": now,
                        "analysis": {"priority": None, "alert": False, "rules": [], "keywords": []},
                    }
                )
    return rows


def ceiling(base: Path, kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """The database's own batched INSERT of the same rows into the real ``messages`` table."""
    from monitor.storage.db import Database
    from monitor.storage.models import Source, StoredMessage

    run = Path(tempfile.mkdtemp(prefix=f"ceiling-{kind}-", dir=base))
    rows = _rows(make_sources(run, sources=args.sources, messages=args.messages, files_per_source=2, seed=7))
    with database(kind, run) as url:
        db = Database(url)
        try:
            db.upgrade()
            with db.engine.begin() as conn:
                conn.execute(insert(cast(Table, Source.__table__)).values(id=1, name="ceiling", kind="files"))
            table = cast(Table, StoredMessage.__table__)
            started = time.perf_counter()
            for start in range(0, len(rows), args.batch_size):
                with db.engine.begin() as conn:
                    conn.execute(insert(table), rows[start : start + args.batch_size])
            seconds = time.perf_counter() - started
        finally:
            db.dispose()
    return {"messages": len(rows), "seconds": seconds, "rate": len(rows) / seconds}


def bench_throughput(args: argparse.Namespace) -> None:
    base = Path(tempfile.mkdtemp(prefix="yuqing-scale-"))
    plan: list[tuple[str, str, int | None]] = [
        ("sqlite", "1 instance, SQLite (baseline)", 1),
        ("postgresql", "1 instance, PostgreSQL", 1),
        ("postgresql", "2 instances, PostgreSQL", 2),
        ("postgresql", "3 instances, PostgreSQL", 3),
        ("sqlite", "ceiling: batched INSERT, SQLite", None),
        ("postgresql", "ceiling: batched INSERT, PostgreSQL", None),
    ]
    results: list[tuple[str, dict[str, Any]]] = []
    for kind, label, instances in plan:
        result = ceiling(base, kind, args) if instances is None else throughput(base, kind, instances, args)
        results.append((label, result))
        print(f"  {label}: {result['rate']:,.0f} msg/s ({result['seconds']:.1f} s)", flush=True)
    baseline = results[0][1]["rate"]
    pg_one = results[1][1]["rate"]
    header = f"{'measurement':<40} {'messages':>9} {'seconds':>8} {'msg/s':>9} {'/ SQLite x1':>11} {'/ PG x1':>8}"
    print()
    print(f"{args.messages:,} messages in {args.sources} sources, batch {args.batch_size}")
    print(header)
    print("-" * len(header))
    for label, result in results:
        print(
            f"{label:<40} {result['messages']:>9,} {result['seconds']:>8.1f} {result['rate']:>9,.0f}"
            f" {result['rate'] / baseline:>11.2f} {result['rate'] / pg_one:>8.2f}"
        )


def bench_fault(args: argparse.Namespace) -> int:
    from tests.helpers.cluster import Size, check, run_cluster, summary

    failed = 0
    for kind in args.databases:
        size = Size(
            messages=args.messages,
            sources=args.sources,
            kill_every=args.kill_every,
            feed_seconds=args.feed_seconds,
            timeout=args.timeout,
        )
        base = Path(tempfile.mkdtemp(prefix=f"yuqing-fault-{kind}-"))
        with database(kind, base) as url:
            outcome = run_cluster(base, url, size)
        print(f"{kind}: {summary(outcome)}", flush=True)
        try:
            check(outcome, size)
            print(f"{kind}: all checks passed")
        except AssertionError as exc:
            failed += 1
            print(f"{kind}: FAILED: {exc}")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fault", action="store_true", help="the full-size multi-instance fault run")
    parser.add_argument("--messages", type=int, default=None)
    parser.add_argument("--sources", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--databases", nargs="+", default=["postgresql", "mariadb"], choices=sorted(SERVERS))
    parser.add_argument("--kill-every", type=float, default=20.0)
    parser.add_argument("--feed-seconds", type=float, default=None)
    parser.add_argument("--timeout", type=float, default=None)
    args = parser.parse_args()
    if args.fault:
        args.messages = args.messages or 50_000
        args.feed_seconds = args.feed_seconds or 240.0
        args.timeout = args.timeout or 1800.0
        return bench_fault(args)
    args.messages = args.messages or 20_000
    args.timeout = args.timeout or 900.0
    bench_throughput(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
