"""A/B throughput of the analysis chain between two source trees, robust to a busy machine.

    .venv/bin/python bench/analysis_ab.py OLD_TREE NEW_TREE [--rounds 8] [--data ../shared/data]

``OLD_TREE``/``NEW_TREE`` are checkouts of the project (e.g. ``git archive main | tar -x -C /tmp/a``).
Each tree runs in its own long-lived worker process with the same workload as
``bench/analysis_speed.py`` (its texts and its 1,000 rules). The driver alternates the workers
batch by batch (250 messages) for ``--rounds`` rounds and keeps, per batch, the *minimum CPU time*
(``time.process_time``) of raw ``jieba.lcut`` and of the full Engine: the minimum over alternating
rounds filters out bursts of load from other processes, which on a shared 2-core machine swing
wall-clock rates by ±30 %. Prints each tree's rates, its ratio to raw jieba, and NEW/OLD.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BATCH, MESSAGES = 250, 4000


def worker(tree: Path, data: Path) -> None:
    """Load the tree's engine on the bench workload, then time batches named on stdin."""
    sys.path.insert(0, str(tree))
    import importlib.util

    spec = importlib.util.spec_from_file_location("analysis_speed", tree / "bench/analysis_speed.py")
    assert spec is not None and spec.loader is not None
    speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(speed)
    speed.DATA = data
    import jieba

    from monitor.analysis.engine import load_engine

    texts = speed.load_texts(MESSAGES)
    rules = Path(tempfile.mkdtemp())
    speed.write_rules(rules)
    engine = load_engine([rules])
    msgs = speed.messages(texts)
    for m in msgs[:300]:
        engine(m)
        jieba.lcut(m.text)
    print("ready", flush=True)
    for line in sys.stdin:
        start = int(line) * BATCH % MESSAGES
        batch = msgs[start : start + BATCH]
        t = time.process_time()
        for m in batch:
            jieba.lcut(m.text)
        tj = time.process_time() - t
        t = time.process_time()
        for m in batch:
            engine(m)
        print(f"{tj:.6f} {time.process_time() - t:.6f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared/data",
        help="shared/data (default: next to the checkout, as bench/analysis_speed.py expects)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.old, args.data)
        return 0
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    procs = {
        name: subprocess.Popen(
            [sys.executable, __file__, str(tree), str(tree), "--worker", "--data", str(args.data.resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=tree,
        )
        for name, tree in trees.items()
    }
    for p in procs.values():
        assert p.stdin is not None and p.stdout is not None
        assert p.stdout.readline().startswith("ready")
    best: dict[str, dict[int, tuple[float, float]]] = {name: {} for name in procs}
    for _ in range(args.rounds):
        for k in range(MESSAGES // BATCH):
            for name, p in procs.items():
                assert p.stdin is not None and p.stdout is not None
                p.stdin.write(f"{k}\n")
                p.stdin.flush()
                tj, te = map(float, p.stdout.readline().split())
                old_j, old_e = best[name].get(k, (float("inf"), float("inf")))
                best[name][k] = (min(old_j, tj), min(old_e, te))
    print(f"{MESSAGES} messages in batches of {BATCH}, min CPU time of {args.rounds} alternating rounds")
    print("| tree | raw jieba msg/s | Engine msg/s | Engine vs raw jieba |")
    print("|---|---:|---:|---:|")
    engine_time = {}
    for name, tree in trees.items():
        tj = sum(x[0] for x in best[name].values())
        te = engine_time[name] = sum(x[1] for x in best[name].values())
        print(f"| {name} ({tree}) | {MESSAGES / tj:,.0f} | {MESSAGES / te:,.0f} | {tj / te:.3f}× |")
    print(f"\nEngine rate new/old: {engine_time['old'] / engine_time['new']:.3f}")
    for p in procs.values():
        assert p.stdin is not None
        p.stdin.close()
        p.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
