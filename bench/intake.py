"""Feedback intake under load (issue 13): p99 at a steady 200 submissions/s while the daemon also
polls a mailbox, against a same-run baseline of the same framework answering a static 200.

Rows (each drives an open-loop load at a fixed rate: request i is due at t0 + i/rate, and its
latency counts from when it was due, so a slow server cannot hide its queue):

  static 200   Litestar on uvicorn (the daemon's stack), one handler returning a constant JSON,
               in its own process - what the framework and this client cost at this rate.
  intake       the real daemon (``yuqing run``) with intake enabled: every request is a real
               submission (JSON, API key, Idempotency-Key) stored through the pipeline (analysis,
               ticket, routing, stories) on SQLite, while a Maildir source receives 10 mails/s
               and is polled every 0.5 s.

The target is p99 ≤ 50 ms for the intake row; ``ratio`` is the row's p99 over the baseline's.

The daemon runs the shipped default rules (``rules/``); ``--rules minimal`` gives the one-rule file
the first rounds used (bench/README), ``--analysis-workers N`` the daemon's ``analysis.workers``.

Run: .venv/bin/python bench/intake.py [--rate 200] [--seconds 20] [--workers 48] [--rules default|minimal]
                                      [--analysis-workers 1] [--front auto|on|off]

CPU ms/req is the daemon's and its child processes' (the HTTP front process, ``http.front_process``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STATIC_APP = """
import socket, sys
import uvicorn
from litestar import Litestar, post

@post("/api/v1/feedback", status_code=201)
async def static() -> dict[str, str]:
    return {"code": "Q000001", "status": "received"}

sock = socket.create_server(("127.0.0.1", 0), backlog=512)
print(sock.getsockname()[1], flush=True)
uvicorn.Server(uvicorn.Config(Litestar([static], logging_config=None), log_config=None,
               access_log=False, lifespan="on")).run(sockets=[sock])
"""


@dataclass
class Result:
    name: str
    sent: int
    ok: int
    errors: int
    seconds: float
    latencies: list[float]
    times: dict[int, tuple[float, float]] = field(default_factory=dict)  # request -> (due, answered)
    cpu: float = float("nan")  # CPU seconds of the server process(es) during the run (user + system)
    cpu_front: float = 0.0  # of which the daemon's child processes (the HTTP front process)

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def drive(port: int, rate: float, seconds: float, workers: int, body: Callable[[int], tuple[bytes, dict[str, str]]]) -> Result:
    """Open loop: request i is due at start + i/rate; latency from due time to the full answer."""
    total = int(rate * seconds)
    jobs: queue.Queue[tuple[int, float] | None] = queue.Queue()
    latencies: list[float] = []
    times: dict[int, tuple[float, float]] = {}
    counts = {"ok": 0, "errors": 0}
    lock = threading.Lock()
    payloads = [body(i) for i in range(total)]  # built before the clock starts

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while (job := jobs.get()) is not None:
            index, due = job
            data, headers = payloads[index]
            try:
                conn.request("POST", "/api/v1/feedback", body=data, headers=headers)
                response = conn.getresponse()
                response.read()
                good = response.status in (200, 201)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                good = False
            answered = time.perf_counter()
            with lock:
                latencies.append(answered - due)
                times[index] = (due, answered)
                counts["ok" if good else "errors"] += 1
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    start = time.perf_counter() + 0.2
    for index in range(total):
        due = start + index / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        jobs.put((index, due))
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()
    return Result("", total, counts["ok"], counts["errors"], time.perf_counter() - start, latencies, times)


def static_baseline(rate: float, seconds: float, workers: int) -> Result:
    proc = subprocess.Popen([sys.executable, "-c", STATIC_APP], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        drive(port, rate, 2, workers, lambda i: (b"{}", {"Content-Type": "application/json"}))  # warm-up
        before = cpu_seconds(proc.pid)
        result = drive(port, rate, seconds, workers, lambda i: (b"{}", {"Content-Type": "application/json"}))
        result.cpu = cpu_seconds(proc.pid) - before
    finally:
        proc.terminate()
        proc.wait()
    result.name = "static 200 (Litestar/uvicorn)"
    return result


def mail(number: int) -> bytes:
    return (
        f"From: customer{number}@example.com\r\nTo: support@example.com\r\nSubject: 订单 {number} 的问题\r\n"
        f"Message-ID: <bench-{number}@example.com>\r\nDate: Sat, 28 Nov 2026 10:00:00 +0800\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"你好，订单 {number} 的商品有划痕，请处理退换货。\r\n"
    ).encode()


def intake_run(
    rate: float, seconds: float, workers: int, folder: Path, profile: Path | None = None, trace: Path | None = None,
    *, rules: str = "default", analysis_workers: int = 1, front: str | None = None, wall: bool = False,
    mail_rate: float = 10.0,
) -> tuple[Result, int]:
    maildir = folder / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    rule_path = ROOT / "rules"  # the shipped default rules, as a real deployment starts with
    if rules == "minimal":  # the one-rule file of the earlier rounds (bench/README), for comparison
        rule_path = folder / "rules"
        rule_path.mkdir()
        (rule_path / "bench.yaml").write_text(
            "rules:\n  - id: b.urgent\n    keywords: {any: [紧急, 爆炸]}\n    priority: L1\n    alert: true\n",
            encoding="utf-8",
        )
    config = folder / "yuqing.yaml"
    config.write_text(yaml.safe_dump({
        "state_dir": str(folder / "state"),
        "logging": {"format": "json"},
        "rules": {"paths": [str(rule_path)]},
        "http": {"port": 0, **({"front_process": front} if front else {})},
        "analysis": {"workers": analysis_workers},
        "intake": {"enabled": True, "key_rate_per_minute": 1_000_000, "address_rate_per_minute": 1_000_000},
        "sources": [{"name": "support", "kind": "maildir", "interval_seconds": 0.5, "maildir": {"path": str(maildir)}}],
        "alerts": {"targets": [{"name": "file", "kind": "jsonl", "jsonl": {"path": str(folder / "alerts.jsonl")}}]},
    }, allow_unicode=True), encoding="utf-8")
    cli = [sys.executable, "-m", "monitor.cli", "--config", str(config)]
    subprocess.run([*cli, "db", "upgrade"], check=True, cwd=ROOT, capture_output=True)
    key = subprocess.run([*cli, "intake", "keys", "add", "bench"], check=True, cwd=ROOT, capture_output=True,
                         text=True).stdout.strip()
    log = (folder / "daemon.log").open("wb")
    if trace is not None:  # the same daemon, with bench/intake_trace.py's wrappers installed first
        trace.unlink(missing_ok=True)
        cli = [sys.executable, str(ROOT / "bench" / "intake_trace.py"), str(trace), "--", "--config", str(config)]
    daemon = subprocess.Popen([*cli, "run"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    stop = threading.Event()
    dropped = [0]

    def feed() -> None:  # 10 mails/s (``mail_rate``) into the Maildir the daemon polls
        if mail_rate <= 0:
            return
        while not stop.wait(1 / mail_rate):
            number = dropped[0]
            tmp = maildir / "tmp" / f"{number}.bench"
            tmp.write_bytes(mail(number))
            tmp.rename(maildir / "new" / f"{number}.bench:2,")
            dropped[0] += 1

    try:
        port = wait_port(folder / "daemon.log")
        headers = {"Content-Type": "application/json", "X-API-Key": key}

        def body(index: int) -> tuple[bytes, dict[str, str]]:
            data = {"type": "complaint", "content": f"第 {index} 条：App 下单后一直显示处理中，客服电话打不通",
                    "contact": f"1380000{index:04d}", "app_version": "3.2.1", "device": "Pixel 8"}
            return json.dumps(data, ensure_ascii=False).encode(), {**headers, "Idempotency-Key": f"bench-{index}"}

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        drive(port, 20, 2, workers, lambda i: body(1_000_000 + i))  # warm-up (jieba, first connections)
        spy = sample(daemon.pid, seconds, profile, wall=wall) if profile else None
        before = tree_cpu(daemon.pid)
        result = drive(port, rate, seconds, workers, body)
        after = tree_cpu(daemon.pid)
        result.cpu = sum(after.values()) - sum(before.get(pid, 0.0) for pid in after)
        result.cpu_front = result.cpu - (after[daemon.pid] - before[daemon.pid])
        if spy is not None:
            spy.wait()
        stop.set()
        feeder.join()
    finally:
        stop.set()
        daemon.terminate()
        daemon.wait(30)
        log.close()
    result.name = f"intake (daemon, SQLite, + Maildir {mail_rate:g} mail/s)"
    return result, dropped[0]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its live threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of a process and of each of its descendants (the HTTP front process), by pid: the
    daemon's own CPU alone would hide the work the front process took over."""
    found = {pid: cpu_seconds(pid)}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                found.update(tree_cpu(int(child)))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return found


def sample(pid: int, seconds: float, out: Path, *, wall: bool = False) -> subprocess.Popen[bytes]:
    """py-spy (if installed: pip install py-spy) on the daemon during the measured run: collapsed
    stacks of every thread, for flame graphs or a per-function sum. By default the threads holding
    the GIL (idle ones left out); ``wall``: every sample of every thread, waiting included - where a
    thread's wall time goes (a writer waiting for the GIL or a lock shows up as such)."""
    spy = Path(sys.executable).with_name("py-spy")
    command = [str(spy if spy.exists() else "py-spy"), "record", "--pid", str(pid), "--rate", "100",
               "--duration", str(int(seconds)), "--format", "raw", "--output", str(out), "--threads", "--nonblocking",
               *(["--idle"] if wall else ["--gil"])]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_port(log: Path, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if '"http_server"' in line:
                return int(json.loads(line)["port"])
        time.sleep(0.2)
    raise SystemExit(f"the daemon did not start its HTTP server: see {log}")


def mail_count(folder: Path) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{folder / 'state' / 'yuqing.db'}")
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT COUNT(*) FROM messages JOIN sources ON sources.id = messages.source_id WHERE sources.name = 'support'"
        )).scalar() or 0)


def intake_groups(folder: Path) -> tuple[int, float]:
    """How many transactions the intake writer committed and their mean size (messages of one group
    share their ``ingested_at``), warm-up included. The daemon's CPU per request says little on its
    own: the writer starts a group as soon as one request waits, so a cheaper group is spent on
    more, smaller groups (shorter waits) rather than on less CPU."""
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{folder / 'state' / 'yuqing.db'}")
    with engine.connect() as conn:
        sizes = [int(n) for n in conn.execute(text(
            "SELECT COUNT(*) FROM messages JOIN sources ON sources.id = messages.source_id"
            " WHERE sources.name = 'intake' GROUP BY messages.ingested_at"
        )).scalars()]
    return len(sizes), sum(sizes) / max(1, len(sizes))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=48, help="client connections")
    parser.add_argument("--profile", type=Path, help="py-spy the daemon during the run: collapsed stacks to this file")
    parser.add_argument("--profile-wall", action="store_true",
                        help="--profile samples every thread's wall time (py-spy --idle), not only GIL holders")
    parser.add_argument("--mail-rate", type=float, default=10.0,
                        help="mails/s dropped into the polled Maildir (the target is stated at 10; 0 to see the intake alone)")
    parser.add_argument("--trace", type=Path, help="timing trace of the daemon (bench/intake_trace.py) to this file, "
                        "and the decomposition of the slowest 1 %% of requests")
    parser.add_argument("--rules", choices=("default", "minimal"), default="default",
                        help="the shipped rules/ (default) or the one-rule file of the earlier rounds")
    parser.add_argument("--analysis-workers", type=int, default=1, help="the daemon's analysis.workers")
    parser.add_argument("--front", choices=("auto", "on", "off"), help="the daemon's http.front_process (unset: its default)")
    args = parser.parse_args()
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    baseline = static_baseline(args.rate, args.seconds, args.workers)
    with tempfile.TemporaryDirectory(prefix="yuqing-intake-bench-") as tmp:
        intake, dropped = intake_run(
            args.rate, args.seconds, args.workers, Path(tmp), args.profile, args.trace,
            rules=args.rules, analysis_workers=args.analysis_workers, front=args.front,
            wall=args.profile_wall, mail_rate=args.mail_rate,
        )
        polled = mail_count(Path(tmp))
        groups, group_size = intake_groups(Path(tmp))
    print(f"\n{args.rate:g} requests/s for {args.seconds:g} s, {args.workers} client connections, {os.cpu_count()} cores,"
          f" {args.rules} rules, analysis.workers {args.analysis_workers}, http.front_process {args.front or 'default'}\n")
    print(f"load average before/after: {load_before} / {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'row':<46} {'sent':>6} {'ok':>6} {'err':>4} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'p99 ratio':>9} {'CPU ms/req':>10} {'p99.9 ms':>8} {'>50 ms':>6}")
    base99 = baseline.pct(0.99)
    for row in (baseline, intake):
        print(
            f"{row.name:<46} {row.sent:>6} {row.ok:>6} {row.errors:>4} {row.ok / row.seconds:>7.1f} "
            f"{row.pct(0.5):>7.1f} {row.pct(0.99):>7.1f} {max(row.latencies) * 1000:>7.1f} {row.pct(0.99) / base99:>9.1f} "
            f"{row.cpu / row.sent * 1000:>10.2f} {row.pct(0.999):>8.1f} {sum(x > 0.05 for x in row.latencies):>6}"
        )
    print(f"\nCPU ms/req counts the daemon and its children; of it in the HTTP front process: "
          f"{intake.cpu_front / intake.sent * 1000:.2f} ms/req")
    print(f"\nmailbox during the run: {dropped} mails dropped, {polled} stored by the daemon's Maildir polls")
    print(f"intake writer: {groups} transactions, {group_size:.1f} submissions each on average (warm-up included)")
    verdict = "meets" if intake.pct(0.99) <= 50 else "MISSES"
    print(f"intake p99 {intake.pct(0.99):.1f} ms {verdict} the target p99 ≤ 50 ms "
          f"(median {statistics.median(intake.latencies) * 1000:.1f} ms)")
    if args.trace is not None:
        from bench.intake_trace import report

        print(report(args.trace, {f"bench-{index}": times for index, times in intake.times.items()}))
    return 0


if __name__ == "__main__":
    socket.setdefaulttimeout(30)
    sys.exit(main())
