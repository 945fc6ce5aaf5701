"""End-to-end pipeline throughput on SQLite (and PostgreSQL, MariaDB), next to ceilings measured
in the same run.

    .venv/bin/python bench/pipeline.py [--sizes 10000 100000] [--batch-size 500] [--profile]
                                       [--databases sqlite postgresql mariadb] [--server-sizes 10000]

For each size, generated feedback (mixed Chinese/English, ~5 % alerting, ~10 messages per
thread; ``tests/helpers/workload.py``) is written as JSONL files. Each measurement runs in its
own child process, so its peak RSS (VmHWM, read by the child at the end) is its own:

* ``pipeline``  files source -> analysis -> stored messages -> tickets -> outbox rows, through
  the daemon's own ``poll_source`` with the minimal rule file (delivery is not timed);
* ``read``      read the same files and ``json.loads`` every line: the read ceiling;
* ``analyze``   build Messages and run the analyzer over them, no storage: the analysis cost;
* ``store``     SQLAlchemy Core ``executemany`` of the same rows into the real ``messages``
  table (same indexes, pragmas and 500-row transactions): the storage ceiling.
* ``pipeline-postgresql``, ``pipeline-mariadb``: the pipeline on a throwaway database on
  127.0.0.1 (PostgreSQL 5432 user postgres; MariaDB 3306 root), created and dropped per run.

``--profile`` runs the pipeline once more under cProfile and prints the top functions.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import realwork  # noqa: E402 - bench/ is the script's own folder

from tests.helpers.workload import generate, write_config, write_rules  # noqa: E402 - needs ROOT on the path

SOURCE = "feedback"
KINDS = ("pipeline", "read", "analyze", "store")
# the servers of tests.helpers.databases (imported in the child only: SQLAlchemy would add to every child's RSS)
SERVERS = ("postgresql", "mariadb")
TARGET = 2_000  # messages/s, issue 4


# --- children: one measurement each ------------------------------------------------------------
def _config(data: Path, batch_size: int) -> Path:
    run = Path(tempfile.mkdtemp(prefix="run-", dir=data))
    return write_config(
        run / "yuqing.yaml",
        source=data / "in",
        rules=data / "rules" / "rules.yaml",
        database=run / "yuqing.db",
        sink=run / "alerts.jsonl",
        batch_size=batch_size,
    )


def child_pipeline(data: Path, batch_size: int, database: str = "sqlite") -> dict[str, Any]:
    if database == "sqlite":
        return _pipeline(data, batch_size, None)
    from tests.helpers.databases import throwaway_database

    with throwaway_database(database, "yq_bench_") as url:
        return _pipeline(data, batch_size, url)


def _pipeline(data: Path, batch_size: int, url: str | None) -> dict[str, Any]:
    from sqlalchemy import func, select

    from monitor.config import load_config
    from monitor.pipeline import poll_source
    from monitor.runtime import Runtime
    from monitor.storage.models import Alert, Ticket

    path = _config(data, batch_size)
    if url is not None:
        settings = json.loads(path.read_text(encoding="utf-8"))
        settings["database"] = {"url": url}
        path.write_text(json.dumps(settings), encoding="utf-8")
    config = load_config(path)
    runtime = Runtime(config)
    runtime.db.upgrade()
    connector = runtime.connectors[SOURCE]
    _warm_up(runtime.rules.current())
    started = time.perf_counter()
    stats = poll_source(runtime.context, SOURCE, connector, batch_size=batch_size)
    seconds = time.perf_counter() - started
    with runtime.db.read() as session:
        tickets = session.scalar(select(func.count()).select_from(Ticket))
        alerts = session.scalar(select(func.count()).select_from(Alert))
    runtime.close()
    runtime.db.dispose()
    return {"messages": stats.new, "seconds": seconds, "tickets": tickets, "alerts": alerts}


def _warm_up(analyzer: Any) -> None:
    """Pay one-time start-up costs (jieba loads its dictionary on first use) before timing."""
    from datetime import UTC, datetime

    from monitor.message import Message

    analyzer(Message(SOURCE, "warm-up", "warm-up", "预热 warm up", datetime.now(UTC)))


def child_read(data: Path, _batch_size: int) -> dict[str, Any]:
    started = time.perf_counter()
    count = 0
    for path in sorted((data / "in").glob("*.jsonl")):
        with path.open("rb") as handle:
            for line in handle:
                json.loads(line.decode("utf-8"))
                count += 1
    return {"messages": count, "seconds": time.perf_counter() - started}


def _messages(data: Path) -> list[Any]:
    from connectors.files import FilesConfig, FilesConnector

    connector = FilesConnector(SOURCE, FilesConfig(path=data / "in", settle_seconds=0))
    return [m for batch in connector.fetch(None, batch_size=10_000) for m in batch.messages]


def child_analyze(data: Path, _batch_size: int) -> dict[str, Any]:
    from monitor.analysis.engine import load_analyzer

    analyzer = load_analyzer([data / "rules" / "rules.yaml"])
    messages = _messages(data)
    _warm_up(analyzer)
    started = time.perf_counter()
    alerting = sum(1 for m in messages if analyzer(m).alert)
    return {"messages": len(messages), "seconds": time.perf_counter() - started, "alerting": alerting}


def child_store(data: Path, batch_size: int) -> dict[str, Any]:
    from sqlalchemy import insert

    from monitor.storage.db import Database
    from monitor.storage.models import Base, Source, StoredMessage, utcnow

    messages = _messages(data)
    run = Path(tempfile.mkdtemp(prefix="store-", dir=data))
    db = Database(f"sqlite:///{run / 'ceiling.db'}")
    Base.metadata.create_all(db.engine)
    with db.engine.begin() as connection:
        source_id = connection.execute(insert(Source.__table__).values(name=SOURCE, kind="files")).lastrowid
    now = utcnow()
    rows = [
        {
            "source_id": source_id,
            "external_id": m.external_id,
            "thread_key": m.thread_key,
            "channel": m.channel,
            "author_id": m.author.id,
            "author_name": m.author.display_name,
            "title": m.title,
            "text": m.text,
            "likes": 0,
            "reposts": 0,
            "replies": 0,
            "raw_ref": m.raw_ref,
            "created_at": m.created_at,
            "ingested_at": now,
            "analysis": {"priority": None, "alert": False, "rules": [], "keywords": []},
        }
        for m in messages
    ]
    table = StoredMessage.__table__
    started = time.perf_counter()
    for start in range(0, len(rows), batch_size):
        with db.engine.begin() as connection:
            connection.execute(insert(table), rows[start : start + batch_size])
    return {"messages": len(rows), "seconds": time.perf_counter() - started}


def _real(name: str) -> Callable[[Path, int], dict[str, Any]]:
    """A real-work child (``bench/realwork.py``): ``mail-*`` reads ``data/maildir``, ``posts-*`` the
    JSONL files; ``*-pipeline-wN`` runs with ``analysis.workers: N``."""
    def run(data: Path, batch_size: int) -> dict[str, Any]:
        corpus, what = name.split("-", 1)
        source, kind = (data / "maildir", "maildir") if corpus == "mail" else (data / "in", "files")
        if what.startswith("pipeline-w"):
            return realwork.pipeline(data, source, kind, batch_size, int(what.removeprefix("pipeline-w")))
        return realwork.parse(source, kind) if what == "parse" else realwork.segment(source, kind)

    return run


REAL = ("mail-segment", "mail-parse", "mail-pipeline-w1", "mail-pipeline-w2")
REAL_POSTS = ("posts-segment", "posts-pipeline-w1", "posts-pipeline-w2")
CHILDREN: dict[str, Callable[[Path, int], dict[str, Any]]] = {
    "pipeline": child_pipeline,
    "read": child_read,
    "analyze": child_analyze,
    "store": child_store,
    **{f"pipeline-{kind}": functools.partial(child_pipeline, database=kind) for kind in SERVERS},
    **{name: _real(name) for name in (*REAL, *REAL_POSTS)},
}


def _own_peak_kb() -> int | None:
    """This process's peak RSS (VmHWM of its own address space), where /proc has it."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None


# --- parent ------------------------------------------------------------------------------------
def measure(kind: str, data: Path, batch_size: int) -> dict[str, Any]:
    """Run one child; its JSON result plus its peak RSS in MB."""
    out = data / f"{kind}.json"
    command = [sys.executable, __file__, "--child", kind, "--data", str(data)]
    command += ["--batch-size", str(batch_size), "--out", str(out)]
    process = subprocess.Popen(command, cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{kind} child failed with exit code {code}")
    result: dict[str, Any] = json.loads(out.read_text())
    # ru_maxrss also counts the parent's RSS at fork (Linux keeps it over exec): prefer VmHWM
    result["rss_mb"] = (result.get("peak_kb") or usage.ru_maxrss) / 1024
    result["rate"] = result["messages"] / result["seconds"]
    return result


def prepare(base: Path, size: int) -> Path:
    data = base / f"n{size}"
    work = generate(
        data / "in", messages=size, threads=max(200, size // 10), files=max(1, size // 5000), seed=size
    )
    write_rules(data / "rules")
    (data / "expected.json").write_text(json.dumps({"alerting": len(work.priority)}))
    return data


def table(rows: list[tuple[int, str, dict[str, Any], float]]) -> str:
    header = f"{'messages':>9}  {'measurement':<44} {'msg/s':>9} {'seconds':>8} {'peak RSS':>9} {'ratio':>7}"
    lines = [header, "-" * len(header)]
    for size, label, result, ratio in rows:
        lines.append(
            f"{size:>9,}  {label:<44} {result['rate']:>9,.0f} {result['seconds']:>8.2f}"
            f" {result['rss_mb']:>6.0f} MB {ratio:>7.2f}"
        )
    return "\n".join(lines)


LABELS = {
    "pipeline": "pipeline: files -> stored -> tickets -> outbox",
    "pipeline-postgresql": "pipeline on PostgreSQL (ratio: / analysis)",
    "pipeline-mariadb": "pipeline on MariaDB (ratio: / analysis)",
    "read": "read ceiling: json.loads the same files",
    "analyze": "analysis only (minimal rules)",
    "store": "storage ceiling: Core executemany insert",
    "mail-segment": "long mail: one jieba.lcut(HMM=False) pass",
    "mail-parse": "long mail: Maildir read + parse only",
    "mail-pipeline-w1": "long mail, default rules, workers 1",
    "mail-pipeline-w2": "long mail, default rules, workers 2",
    "posts-segment": "posts: one jieba.lcut(HMM=False) pass",
    "posts-pipeline-w1": "posts, default rules, workers 1",
    "posts-pipeline-w2": "posts, default rules, workers 2",
}


def profile(data: Path, batch_size: int) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(child_pipeline, data, batch_size)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def real_work(base: Path, sizes: list[int], posts: int, batch_size: int) -> None:
    """Issue 16's rows: the default rules on long mail and short posts against same-run ceilings."""
    print(f"\nreal work - default rules ({ROOT / 'rules'}), batch size {batch_size}, {os.cpu_count()} CPUs,"
          f" load {os.getloadavg()[0]:.1f}")
    print("ratio = msg/s / the same corpus' raw jieba.lcut(HMM=False) msg/s; batch s = first / last batch;"
          " RSS = daemon process (+ workers' peaks);\nCPU ms = CPU time per message (daemon + workers);"
          " CPU ratio = the segmentation pass' CPU ms / this row's (what the ratio would be on idle cores,"
          " workers 1)\n")
    header = (f"{'messages':>9}  {'measurement':<42} {'msg/s':>8} {'seconds':>8} {'ratio':>6}"
              f" {'batch s first/last':>18} {'RSS MB':>14} {'CPU ms':>7} {'CPU ratio':>9}")
    print(header + "\n" + "-" * len(header), flush=True)
    runs = [(size, REAL, "mail") for size in sizes] + ([(posts, REAL_POSTS, "posts")] if posts else [])
    for size, kinds, corpus in runs:
        data = base / f"{corpus}{size}"
        if corpus == "mail":
            (data / "maildir").parent.mkdir(parents=True, exist_ok=True)
            (data / "maildir").symlink_to(realwork.mailbox(base, size))
        else:
            generate(data / "in", messages=size, threads=max(200, size // 10), files=max(1, size // 5000), seed=size)
        results = {kind: measure(kind, data, batch_size) for kind in kinds}
        ceiling = results[f"{corpus}-segment"]["rate"]
        segment_cpu = results[f"{corpus}-segment"]["cpu"] / results[f"{corpus}-segment"]["messages"]
        for kind in kinds:
            r = results[kind]
            batches = f"{r['first_batch']:.2f} / {r['last_batch']:.2f}" if "first_batch" in r else ""
            rss = f"{r['rss_mb']:.0f}" + (f" (+{r['workers_kb'] / 1024:.0f})" if r.get("workers_kb") else "")
            cpu = r["cpu"] / r["messages"]
            print(f"{size:>9,}  {LABELS[kind]:<42} {r['rate']:>8,.0f} {r['seconds']:>8.2f}"
                  f" {r['rate'] / ceiling:>5.2f}x {batches:>18} {rss:>14} {cpu * 1000:>7.2f}"
                  f" {segment_cpu / cpu:>8.2f}x", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--batch-size", type=int, default=500, help="the daemon's default batch size")
    parser.add_argument("--profile", action="store_true", help="cProfile the pipeline at the first size")
    parser.add_argument(
        "--databases",
        nargs="+",
        choices=["sqlite", *SERVERS],
        default=["sqlite", *SERVERS],
        help="pipeline rows: SQLite always; PostgreSQL/MariaDB on 127.0.0.1 (throwaway databases)",
    )
    parser.add_argument(
        "--server-sizes",
        type=int,
        nargs="+",
        default=[10_000],
        help="sizes at which the PostgreSQL/MariaDB rows are measured (they are slower)",
    )
    parser.add_argument("--mail-sizes", type=int, nargs="*", default=[2_000, 10_000],
                        help="long-mail Maildirs for the default-rules rows (none: skip)")
    parser.add_argument("--posts", type=int, default=10_000, help="short posts for the default-rules rows (0: skip)")
    parser.add_argument("--only-real", action="store_true", help="only the default-rules rows")
    parser.add_argument("--child", choices=list(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = CHILDREN[args.child](args.data, args.batch_size)
        result["peak_kb"] = _own_peak_kb()
        args.out.write_text(json.dumps(result))
        return 0
    rows: list[tuple[int, str, dict[str, Any], float]] = []
    if args.mail_sizes or args.posts:
        with tempfile.TemporaryDirectory(prefix="yuqing-bench-real-") as tmp:
            real_work(Path(tmp), args.mail_sizes, args.posts, args.batch_size)
    if args.only_real:
        return 0
    with tempfile.TemporaryDirectory(prefix="yuqing-bench-") as tmp:
        for size in args.sizes:
            data = prepare(Path(tmp), size)
            if args.profile:  # each pipeline run has its own database: the data can be reused
                profile(data, args.batch_size)
                args.profile = False
            results = {kind: measure(kind, data, args.batch_size) for kind in KINDS}
            pipeline = results["pipeline"]
            alerting = json.loads((data / "expected.json").read_text())["alerting"]
            if pipeline["messages"] != size or results["analyze"]["alerting"] != alerting:
                raise SystemExit(f"workload mismatch at {size}: {pipeline} / {alerting} alerting expected")
            for kind in KINDS:
                ratio = pipeline["rate"] / results[kind]["rate"]
                rows.append((size, LABELS[kind], results[kind], ratio))
            for server in (d for d in args.databases if d in SERVERS and size in args.server_sizes):
                result = measure(f"pipeline-{server}", data, args.batch_size)
                if (result["messages"], result["tickets"], result["alerts"]) != (
                    pipeline["messages"],
                    pipeline["tickets"],
                    pipeline["alerts"],
                ):
                    raise SystemExit(f"{server} stored something else than SQLite: {result} / {pipeline}")
                rows.append(
                    (size, LABELS[f"pipeline-{server}"], result, result["rate"] / results["analyze"]["rate"])
                )
            print(
                f"n={size:,}: {pipeline['tickets']:,} tickets, {pipeline['alerts']:,} outbox rows,"
                f" {alerting:,} alerting messages",
                file=sys.stderr,
            )
    print(f"yuqing pipeline benchmark - SQLite, batch size {args.batch_size}, {os.cpu_count()} CPUs")
    print("ratio = pipeline msg/s / this row's msg/s (1.00 on the pipeline row);")
    print("PostgreSQL/MariaDB rows: that pipeline's msg/s / the same run's analysis-only msg/s\n")
    print(table(rows))
    verdict = min(r[2]["rate"] for r in rows if r[1] == LABELS["pipeline"])
    print(f"\nslowest pipeline run: {verdict:,.0f} msg/s (target >= {TARGET:,})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
