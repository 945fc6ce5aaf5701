"""Peak RSS of the daemon over a long run of long mail (issue 16: flat between 2,000 and 20,000).

    .venv/bin/python bench/mail_rss.py [--messages 20000] [--workers 1] [--every 2000]

Runs ``poll_source`` over the generated Maildir of ``bench/realwork.py`` (default rules, SQLite,
batches of 500) in this process and prints, every ``--every`` mails, the process' VmHWM and VmRSS
and the CPU seconds per mail of the batches since the last line (CPU, not wall time: on a shared
machine the wall time of a batch follows the load). 20,000 mails take about 40 minutes on two
busy cores; the Maildir is generated once and cached in the temp folder.

The process first imports what ``yuqing run`` imports (``monitor.cli_run``, ``monitor.daemon``),
and the empty database is migrated in a child process (``yuqing db upgrade``, or an earlier start):
the daemon's steady state, on a schema that is current, never loads Alembic
(``--migrate-in-process`` measures a first start, which does: about +12 MB).

With ``--workers N`` (N > 1) the lines add the workers: the sum of their VmHWM (each counts the
pages it shares copy-on-write with the daemon) and the proportional set size (PSS) of the daemon
plus its workers, which counts a shared page once.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import realwork  # noqa: E402 - bench/ is the script's own folder


def _status(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith(field))


def _pid_field(pid: int, name: str, field: str) -> int:
    """A ``kB`` field of /proc/<pid>/<name> in MB (0 if the process is gone)."""
    try:
        with open(f"/proc/{pid}/{name}") as status:
            return next(int(line.split()[1]) // 1024 for line in status if line.startswith(field))
    except (OSError, StopIteration):
        return 0


def _workers(runtime: Any) -> str:
    pool = getattr(runtime, "pool", None)
    if pool is None:
        return ""
    pids = pool.pids()
    hwm = sum(_pid_field(pid, "status", "VmHWM:") for pid in pids)
    pss = sum(_pid_field(pid, "smaps_rollup", "Pss:") for pid in [os.getpid(), *pids])
    return f" {hwm:>12} {pss:>10}"


def _migrate_apart(db: Any) -> None:
    """``Database.upgrade`` in a child process, as ``yuqing db upgrade`` does before a daemon starts."""
    code = "import sys; from monitor.storage.db import Database; Database(sys.argv[1]).upgrade()"
    subprocess.run([sys.executable, "-c", code, db.url], check=True, cwd=ROOT)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=1, help="analysis workers (1: in-process, the target)")
    parser.add_argument("--every", type=int, default=2_000, help="mails between two printed lines")
    parser.add_argument("--migrate-in-process", action="store_true",
                        help="migrate the empty database in this process (a daemon's first start)")
    args = parser.parse_args()

    import monitor.cli_run  # what `yuqing run` imports
    import monitor.daemon
    import monitor.pipeline
    import monitor.runtime
    import monitor.storage.db

    if not args.migrate_in_process:
        upgrade = monitor.storage.db.Database.upgrade

        def upgrade_apart(db: monitor.storage.db.Database) -> None:
            _migrate_apart(db)
            upgrade(db)  # a plain SELECT now: the schema is current

        monitor.storage.db.Database.upgrade = upgrade_apart  # type: ignore[method-assign]
    runtimes: list[Any] = []
    built = monitor.runtime.Runtime.__init__

    def remember(runtime: Any, *a: Any, **kw: Any) -> None:
        built(runtime, *a, **kw)
        runtimes.append(runtime)

    monitor.runtime.Runtime.__init__ = remember  # type: ignore[method-assign]

    source = realwork.mailbox(Path(tempfile.gettempdir()), args.messages)
    inner = monitor.pipeline.poll_source
    done, mark = [0], [_cpu(), 0]
    extra = f" {'workers HWM':>12} {'PSS total':>10}" if args.workers > 1 else ""
    print(f"{'mails':>7} {'VmHWM MB':>9} {'VmRSS MB':>9} {'CPU ms/mail':>12}{extra}", flush=True)

    def poll(*a: Any, on_batch: Any, **kw: Any) -> Any:
        def each(stats: monitor.pipeline.PollStats) -> None:
            on_batch(stats)
            done[0] += stats.fetched
            if done[0] - int(mark[1]) >= args.every or done[0] >= args.messages:
                cpu = _cpu()
                per = (cpu - mark[0]) / max(1, done[0] - int(mark[1])) * 1000
                print(f"{done[0]:>7,} {_status('VmHWM:'):>9} {_status('VmRSS:'):>9} {per:>12.2f}"
                      f"{_workers(runtimes[-1]) if runtimes else ''}", flush=True)
                mark[0], mark[1] = cpu, done[0]

        return inner(*a, on_batch=each, **kw)

    monitor.pipeline.poll_source = poll  # realwork.pipeline imports it at call time
    started = time.perf_counter()
    result = realwork.pipeline(Path(tempfile.mkdtemp(prefix="mail-rss-")), source, "maildir", 500, args.workers)
    print(f"\n{result['messages']:,} mails, {result['tickets']:,} tickets, {time.perf_counter() - started:.0f} s;"
          f" peak RSS {_status('VmHWM:')} MB (target <= 250 MB in-process); Alembic loaded:"
          f" {'alembic' in sys.modules}, rich loaded: {'rich' in sys.modules}; load average"
          f" {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
