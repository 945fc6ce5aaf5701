"""CPU per intake submission by group size, in-process (issue 13): what bench/intake.py's latency
is made of, measured in CPU seconds so that a loaded, shared machine does not blur it.

For groups of 1, 2, 5, 10 and 20 submissions (JSON feedback as the API gets it, with an
Idempotency-Key) on SQLite, through the daemon's own Runtime (rules, stories, incidents):

  prepare   per submission, in the request's thread: the message, its analysis and fingerprint
  writer    per group, in the intake writer (the one serial part): the Idempotency-Key lookup and
            the pipeline transaction (messages, tickets, incidents, stories, submission rows)

The writer's cost per group is what group commit amortises; its fixed part decides how many
groups per second the daemon's one GIL can write.

Run: .venv/bin/python bench/intake_cpu.py [--rounds 120]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.config import load_config  # noqa: E402
from monitor.intake.keys import Client  # noqa: E402
from monitor.intake.submit import Feedback, Pending, prepare, write_group  # noqa: E402
from monitor.runtime import Runtime  # noqa: E402

SECRET = b"s" * 32
CLIENT = Client("key:1", "bench", "web")


def runtime(folder: Path, default_rules: bool = False) -> Runtime:
    rules = ROOT / "rules"
    if not default_rules:
        rules = folder / "rules"
        rules.mkdir()
        (rules / "bench.yaml").write_text(
            "rules:\n  - id: b.urgent\n    keywords: {any: [紧急, 爆炸]}\n    priority: L1\n    alert: true\n",
            encoding="utf-8",
        )
    config = folder / "yuqing.yaml"
    config.write_text(yaml.safe_dump({
        "state_dir": str(folder / "state"),
        "rules": {"paths": [str(rules)]},
        "analysis": {"workers": 1},
        "intake": {"enabled": True},
        "alerts": {"targets": [{"name": "file", "kind": "jsonl", "jsonl": {"path": str(folder / "alerts.jsonl")}}]},
    }, allow_unicode=True), encoding="utf-8")
    built = Runtime(load_config(config))
    built.db.upgrade()
    return built


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--rounds", type=int, default=120, help="submissions per group size")
    parser.add_argument("--rules", choices=("minimal", "default"), default="minimal",
                        help="the one-rule file of the first rounds, or the shipped rules/")
    parser.add_argument("--grown", type=int, default=0,
                        help="submissions written first (groups of 20): the same complaint, so one incident and "
                        "its story grow as they do in bench/intake.py's run")
    parser.add_argument("--looked-up", action="store_true",
                        help="items looked up when prepared (the HTTP front process): the writer does not look again")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yuqing-intake-cpu-") as tmp:
        folder = Path(tmp)
        rt = runtime(folder, args.rules == "default")
        counter = iter(range(1, 10**9))

        def pending(count: int) -> list[Pending]:
            out = []
            for _ in range(count):
                n = next(counter)
                feedback = Feedback.model_validate({
                    "type": "complaint", "content": f"第 {n} 条：App 下单后一直显示处理中，客服电话打不通",
                    "contact": f"1380000{n:04d}", "app_version": "3.2.1", "device": "Pixel 8",
                })
                item = prepare(rt.context(), "intake", SECRET, folder, CLIENT, feedback, idempotency_key=f"b-{n}",
                               lookup=args.looked_up)
                assert isinstance(item, Pending)
                out.append(replace(item, looked_up=args.looked_up))
            return out

        write_group(rt.context(), "intake", SECRET, pending(20))  # warm-up: jieba, statement caches
        for _ in range(args.grown // 20):
            write_group(rt.context(), "intake", SECRET, pending(20))
        print(f"\nCPU per submission (process_time), SQLite, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f},"
              f" {args.rules} rules, {args.grown} submissions before, looked up when prepared: {args.looked_up}\n")
        print(f"{'group':>5} {'prepare ms/sub':>15} {'writer ms/group':>16} {'writer ms/sub':>14} {'total ms/sub':>13}")
        for size in (1, 2, 5, 10, 20):
            groups = max(4, args.rounds // size)
            prepared = written = 0.0
            for _ in range(groups):
                started = time.process_time()
                items = pending(size)
                middle = time.process_time()
                write_group(rt.context(), "intake", SECRET, items)
                prepared, written = prepared + middle - started, written + time.process_time() - middle
            subs = groups * size
            print(f"{size:>5} {prepared / subs * 1000:>15.2f} {written / groups * 1000:>16.2f} "
                  f"{written / subs * 1000:>14.2f} {(prepared + written) / subs * 1000:>13.2f}")
        rt.close()
        rt.db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
