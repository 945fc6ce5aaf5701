"""The main process's work per message outside analysis, stage by stage, on two code trees.

    .venv/bin/python bench/flow_cost.py --base /tmp/main-tree [--mails 2000] [--posts 10000]
                                        [--workers 1] [--repeat 1]

Runs ``poll_source`` with the DEFAULT rules over the generated long mails (``bench/realwork.py``'s
Maildir) and the short posts of ``tests/helpers/workload.py``, once with the code in ``--base``
(e.g. ``git archive main | tar -x -C /tmp/main-tree``) and once with this checkout, each in its own
child process (``PYTHONPATH`` picks the tree). Each child wraps the flow's stages and counts:

* CPU time (``time.process_time``) per stage, exclusive of the wrapped stages it calls, so the
  analysis (``prepare`` with ``workers: 1``) and the clustering fingerprints (``fingerprint``) can
  be told apart from the storage, ticket, story and notification work around them;
* SQL statements per stage (SQLAlchemy ``before_cursor_execute``: an executemany is one).

Then it compares the two databases (``bench/flow_compare.py``): every table, run-time timestamps
masked, plus every outbox row rendered as text and markdown; the run fails on any difference.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

# module -> functions wrapped as stages (looked up at call time by their callers)
STAGES: dict[str, tuple[str, ...]] = {
    "monitor.pipeline": (
        "poll_source", "process_batch", "prepare", "get_or_create_source", "store_messages",
        "store_quarantined", "hold_for_review", "flow", "take_survey_replies", "assign_tickets",
        "apply_routing", "update_incidents", "observe", "notify_due", "save_checkpoint",
    ),
    "monitor.tickets.service": ("resolve", "_insert_tickets", "_link_messages"),
    "monitor.tickets.incidents": ("cluster_messages", "spike_levels", "_open"),
    "monitor.tickets.clustering": ("fingerprint", "_candidates", "_insert_clusters"),
    "monitor.stories.notify": ("page_notice", "update_notice", "send", "silenced"),
}
ANALYSIS = ("prepare", "fingerprint")  # analysis (workers: 1) and clustering hashes: not the flow's
OUTSIDE = ("poll_source",)  # exclusive time of the poll loop: the connector reading and parsing


class Meter:
    """Exclusive CPU seconds, calls and SQL statements per wrapped stage."""

    def __init__(self) -> None:
        self.stack: list[list[Any]] = []  # [name, started, child seconds]
        self.excl: dict[str, float] = {}
        self.incl: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.sql: dict[str, int] = {}

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def measured(*args: Any, **kwargs: Any) -> Any:
            frame = [name, time.process_time(), 0.0]
            self.stack.append(frame)
            try:
                return function(*args, **kwargs)
            finally:
                self.stack.pop()
                spent = time.process_time() - frame[1]
                self.excl[name] = self.excl.get(name, 0.0) + spent - frame[2]
                self.incl[name] = self.incl.get(name, 0.0) + spent
                self.calls[name] = self.calls.get(name, 0) + 1
                if self.stack:
                    self.stack[-1][2] += spent

        return measured

    def statement(self, *_args: Any) -> None:
        name = self.stack[-1][0] if self.stack else "(outside)"
        self.sql[name] = self.sql.get(name, 0) + 1


def child(corpus: str, source: Path, workers: int, batch_size: int, dump: Path | None) -> dict[str, Any]:
    import importlib
    import importlib.util
    from datetime import UTC, datetime

    from sqlalchemy import event
    from sqlalchemy.orm import Session

    sys.path.insert(0, str(BENCH))
    import realwork

    from monitor.config import load_config
    from monitor.message import Message
    from monitor.runtime import Runtime

    data = Path(tempfile.mkdtemp(prefix="flow-cost-"))
    kind = "maildir" if corpus == "mail" else "files"
    runtime = Runtime(load_config(realwork._config(data, kind, source, batch_size, workers)))
    runtime.db.upgrade()
    warm = Message(realwork.SOURCE, "warm-up", "warm-up", "预热 投诉 warm up", datetime.now(UTC))
    runtime.rules.current()(warm)
    if runtime.pool is not None:
        runtime.pool.analyse(runtime.rules.current(), [warm])
    if importlib.util.find_spec("monitor.gcfreeze") is not None:  # as the daemon does at start
        importlib.import_module("monitor.gcfreeze").settle()
    meter = Meter()
    for module_name, names in STAGES.items():
        module = importlib.import_module(module_name)
        for name in names:
            if hasattr(module, name):
                setattr(module, name, meter.wrap(name, getattr(module, name)))
    Session.commit = meter.wrap("commit", Session.commit)  # type: ignore[method-assign]
    Session.flush = meter.wrap("flush", Session.flush)  # type: ignore[method-assign]
    event.listen(runtime.db.engine, "before_cursor_execute", meter.statement)
    import monitor.pipeline as pipeline

    started_wall = datetime.now(UTC)
    cpu = time.process_time()
    stats = pipeline.poll_source(
        runtime.context, realwork.SOURCE, runtime.connectors[realwork.SOURCE], batch_size=batch_size
    )
    total = time.process_time() - cpu
    runtime.close()
    if dump is not None:
        from flow_compare import dump_database

        dump_database(Path(str(runtime.db.engine.url.database)), started_wall, dump)
    runtime.db.dispose()
    return {
        "messages": stats.new, "batches": stats.batches, "cpu": total, "excl": meter.excl,
        "incl": meter.incl, "calls": meter.calls, "sql": meter.sql,
    }


def run_child(tree: Path, corpus: str, source: Path, args: argparse.Namespace, dump: Path | None) -> dict[str, Any]:
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    command = [sys.executable, __file__, "--child", corpus, "--source", str(source), "--out", str(out),
               "--workers", str(args.workers), "--batch-size", str(args.batch_size)]
    if dump is not None:
        command += ["--dump", str(dump)]
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{ROOT}"}
    subprocess.run(command, check=True, env=env, cwd=tree)
    result: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    return result


def _base_run(args: argparse.Namespace, corpus: str, source: Path, dump: Path | None) -> dict[str, Any]:
    """The base tree's run, or the one kept in ``--keep-base`` from an earlier call."""
    if args.keep_base is None:
        return run_child(args.base.resolve(), corpus, source, args, dump)
    kept = args.keep_base / f"{corpus}-{source.name}-w{args.workers}-b{args.batch_size}"
    if not (kept / "result.json").exists():
        kept.mkdir(parents=True, exist_ok=True)
        result = run_child(args.base.resolve(), corpus, source, args, kept / "dump.json")
        (kept / "result.json").write_text(json.dumps(result))
    if dump is not None:
        dump.write_bytes((kept / "dump.json").read_bytes())
    loaded: dict[str, Any] = json.loads((kept / "result.json").read_text())
    return loaded


def _flow_ms(r: dict[str, Any]) -> float:
    """CPU of the main process outside analysis, fingerprints and the connector, per message."""
    spent = sum(v for k, v in r["excl"].items() if k not in ANALYSIS + OUTSIDE)
    return spent * 1000 / r["messages"]


def report(corpus: str, base: dict[str, Any], branch: dict[str, Any]) -> None:
    n, batches = base["messages"], base["batches"]
    print(f"\n{corpus}: {n:,} messages, {batches} batches (base) / {branch['messages']:,}, {branch['batches']}")
    print(f"{'stage (exclusive CPU)':<26} {'base ms/msg':>11} {'branch':>8} {'base SQL/batch':>15} {'branch':>7}")
    names = sorted(set(base["excl"]) | set(branch["excl"]) | set(base["sql"]) | set(branch["sql"]),
                   key=lambda k: -base["excl"].get(k, 0.0))
    for name in names:
        b_ms = base["excl"].get(name, 0.0) * 1000 / n
        r_ms = branch["excl"].get(name, 0.0) * 1000 / branch["messages"]
        b_sql = base["sql"].get(name, 0) / batches
        r_sql = branch["sql"].get(name, 0) / branch["batches"]
        print(f"{name:<26} {b_ms:>11.3f} {r_ms:>8.3f} {b_sql:>15.1f} {r_sql:>7.1f}")
    b_sql = sum(base["sql"].values()) / batches
    r_sql = sum(branch["sql"].values()) / branch["batches"]
    print(f"{'SQL statements per batch':<26} {'':>11} {'':>8} {b_sql:>15.1f} {r_sql:>7.1f}")
    print(f"{'whole run CPU ms/msg':<26} {base['cpu'] * 1000 / n:>11.3f} {branch['cpu'] * 1000 / branch['messages']:>8.3f}")
    print(f"{'flow + store ms/msg':<26} {_flow_ms(base):>11.3f} {_flow_ms(branch):>8.3f}"
          "   (outside analysis, fingerprints and the connector)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, help="the code tree to compare against (main)")
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--posts", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--no-compare", action="store_true", help="skip the database comparison")
    parser.add_argument("--keep-base", type=Path, help="a folder: reuse the base runs kept there (same options)")
    parser.add_argument("--child", choices=["mail", "posts"], help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dump", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child(args.child, args.source, args.workers, args.batch_size, args.dump)
        args.out.write_text(json.dumps(result))
        return 0
    if args.base is None:
        parser.error("--base is required")
    sys.path.insert(0, str(BENCH))
    sys.path.insert(0, str(ROOT))
    import realwork
    from flow_compare import compare_dumps

    from tests.helpers.workload import generate

    work = Path(tempfile.mkdtemp(prefix="flow-cost-"))
    corpora: list[tuple[str, Path]] = []
    if args.mails:
        corpora.append(("mail", realwork.mailbox(work, args.mails)))
    if args.posts:
        posts = Path(tempfile.gettempdir()) / f"yuqing-bench-posts-{args.posts}"  # kept: same files, same inodes
        if not (posts / ".complete").exists():
            generate(posts / "in", messages=args.posts, threads=max(200, args.posts // 10),
                     files=max(1, args.posts // 5000), seed=args.posts)
            (posts / ".complete").write_text(str(args.posts))
        posts = posts / "in"
        corpora.append(("posts", posts))
    differences = 0
    print(f"workers {args.workers}, batch size {args.batch_size}, load {os.getloadavg()[0]:.1f}")
    for corpus, source in corpora:
        dumps = (None, None) if args.no_compare else (work / f"{corpus}-base.json", work / f"{corpus}-branch.json")
        base = _base_run(args, corpus, source, dumps[0])
        branch = run_child(ROOT, corpus, source, args, dumps[1])
        report(corpus, base, branch)
        if dumps[0] is not None and dumps[1] is not None:
            found = compare_dumps(dumps[0], dumps[1])
            differences += found
            print(f"database comparison ({corpus}): {found} differences")
    return 1 if differences else 0


if __name__ == "__main__":
    raise SystemExit(main())
