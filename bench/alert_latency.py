"""Alert latency and clustering throughput (issues 7, 11).

1. Clustering: 100,000 posts (10,000 stories x 10 near-duplicate reposts, plus noise) through
   fingerprint + ClusterIndex, against a same-run baseline of raw blake2b hashing of the texts.
2. Latency: a background load of ~1,000 messages/s through ``process_batch`` (SQLite and
   PostgreSQL on 127.0.0.1) while urgent messages are injected (2/s); each alert goes through the
   outbox to a local HTTP receiver. p50/p99 from the message's stored time (the batch commit) to
   its arrival at the receiver, for: no load (the same-run baseline), the previous delivery wiring
   (a loop polling ``Outbox.deliver``) and the daemon's ``DeliveryWorker`` (woken by the commit,
   SQLite hand-off). Message texts are generated before the clock starts. Since issue 11 every
   alert goes through the route tree and the stories (incident clustering, grouping): L1 routes
   with ``group_wait: 0``, the default route waits 30 s.

Run: .venv/bin/python bench/alert_latency.py [--seconds 20] [--db sqlite|postgresql|both] [--posts 0]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog
from sqlalchemy import create_engine
from sqlalchemy import text as sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.alerts.outbox import Outbox
from monitor.alerts.senders.registry import sender_class
from monitor.alerts.worker import DeliveryWorker
from monitor.config import AlertsConfig
from monitor.message import Author, Batch, Message
from monitor.pipeline import PipelineContext, process_batch
from monitor.storage.db import Database
from monitor.storage.models import utcnow
from monitor.stories.routes import RouteConfig, RouteMatch
from monitor.stories.settings import build_settings
from monitor.targets import TargetConfig
from monitor.tickets.clusters import ClusterIndex
from monitor.tickets.fingerprint import fingerprint
from monitor.tickets.incident_settings import IncidentsConfig
from monitor.tickets.thread_settings import TicketsConfig
from tests.helpers.builders import KeywordStub
from tests.helpers.receiver import receiver

CHARS = "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然于心学么之都好看起发当没成只如事把还用第样道想作种开美总从无情己面最女但现前些所同日手又行意动方期它头经长儿回位分爱老因很给名法间斯知世什两次使身者被高已亲其进此话常与活正感"


def corpus(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    stories = ["".join(rng.choice(CHARS) for _ in range(rng.randint(25, 60))) for _ in range(n // 10)]
    out = []
    for i in range(n):
        story = stories[i % len(stories)]
        variant = i // len(stories)
        out.append(
            story
            if variant == 0
            else f"转发微博//@用户{i}: {story}"
            if variant % 2
            else f"{story} #话题{variant}# http://t.cn/{i}"
        )
    return out


def bench_clustering(n: int) -> None:
    texts = corpus(n)
    started = time.perf_counter()
    for text in texts:
        hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    raw = time.perf_counter() - started
    started = time.perf_counter()
    index = ClusterIndex(0.6)
    for text in texts:
        index.assign(fingerprint(text))
    took = time.perf_counter() - started
    print(f"{'stage':<38}{'posts':>9}{'seconds':>10}{'posts/s':>12}{'vs raw':>9}")
    print(f"{'baseline: blake2b of each text':<38}{n:>9}{raw:>10.2f}{n / raw:>12,.0f}{1:>9.1f}")
    print(
        f"{'fingerprint + cluster (MinHash LSH)':<38}{n:>9}{took:>10.2f}{n / took:>12,.0f}{took / raw:>8.1f}x"
    )
    print(
        f"clusters: {len(index):,} (expected {n // 10:,}); target <= 10 s: {'OK' if took <= 10 else 'MISSED'}"
    )


@contextmanager
def database(kind: str) -> Iterator[Database]:
    """A fresh, migrated database: SQLite in a temp dir, or a new PostgreSQL database on 127.0.0.1."""
    if kind == "sqlite":
        db = Database(f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}")
        db.upgrade()
        try:
            yield db
        finally:
            db.dispose()
        return
    name = f"yq_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sql(f"CREATE DATABASE {name}"))
    db = Database(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    try:
        db.upgrade()
        yield db
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(sql(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


@dataclass
class Run:
    label: str
    rate: float
    sent: int
    received: int
    p50: float
    p99: float


def bench_latency(kind: str, mode: str, seconds: float, rate: int) -> Run:
    """One run: ``rate`` msg/s (0 = idle) in 10 batches/s; one urgent message every 5th batch.

    ``mode``: ``poll`` = the old wiring (a loop calling ``Outbox.deliver`` every 20 ms, no hand-off);
    ``worker`` = the daemon's wiring (``DeliveryWorker``: woken by ``after_commit``, SQLite hand-off).
    """
    analyzer = KeywordStub({"紧急": ("L1", True)})
    target = TargetConfig(name="hook", kind="webhook", min_priority="L1")
    # the route tree the daemon uses: 30 s group_wait by default, L1 at once (group_wait: 0)
    route = RouteConfig(
        receivers=["hook"],
        group_wait=30,
        routes=[RouteConfig(name="urgent", match=RouteMatch(priority=["L1"]), group_wait=0)],
    )
    stories = build_settings(route, [target], IncidentsConfig(), None)
    stored_at: dict[str, float] = {}
    arrived: dict[str, float] = {}
    per_batch = max(1, rate // 10)
    rng = random.Random(1)
    texts = ["".join(rng.choice(CHARS) for _ in range(30)) for _ in range(4096)]
    with database(kind) as db, receiver() as r:
        context = PipelineContext(db, analyzer, stories, utcnow, True, TicketsConfig(), None)
        original = r.server.RequestHandlerClass.do_POST  # type: ignore[attr-defined]

        def stamped(handler: object) -> None:
            original(handler)
            arrived[r.requests[-1].json["external_id"]] = time.perf_counter()

        r.server.RequestHandlerClass.do_POST = stamped  # type: ignore[attr-defined]
        cls = sender_class("webhook")
        hook = cls("hook", cls.Config.model_validate({"url": f"{r.url}/hook"}))
        outbox = Outbox(db, {"hook": hook}, AlertsConfig(), instance="b")
        stop = threading.Event()
        worker: DeliveryWorker | None = None
        poller: threading.Thread | None = None
        if mode == "worker":
            worker = DeliveryWorker(lambda: outbox, 1.0, handoff=db.engine.dialect.name == "sqlite").start()
        else:

            def poll() -> None:
                while not stop.is_set():
                    if not outbox.deliver().sent:
                        time.sleep(0.02)

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
        sent = 0
        started = time.perf_counter()
        batch_no = 0
        while time.perf_counter() - started < seconds:
            tick = time.perf_counter()
            urgent_id = f"m{sent}" if batch_no % 5 == 0 else None
            messages = []
            count = per_batch if rate else 1
            for i in range(count):
                body = (
                    ("紧急 " if urgent_id and i == 0 else "") + texts[(sent + i) % len(texts)] + str(sent + i)
                )
                messages.append(
                    Message(
                        source="load",
                        external_id=f"m{sent + i}",
                        thread_key=f"t{sent + i}",
                        text=body,
                        created_at=datetime.now(UTC),
                        author=Author("u", "u"),
                    )
                )
            sent += count
            if urgent_id is not None or rate:
                stats = process_batch(context, "load", "bench", Batch(tuple(messages), {}))
                if urgent_id is not None:
                    stored_at[urgent_id] = time.perf_counter()
                if worker is not None:
                    worker.after_commit(stats.alerts)
            batch_no += 1
            time.sleep(max(0.0, 0.1 - (time.perf_counter() - tick)))
        elapsed = time.perf_counter() - started
        deadline = time.perf_counter() + 10
        while len(arrived) < len(stored_at) and time.perf_counter() < deadline:
            time.sleep(0.05)
        stop.set()
        if worker is not None:
            worker.stop(5)
        if poller is not None:
            poller.join()
    lat = sorted(arrived[k] - stored_at[k] for k in stored_at if k in arrived)
    p50 = statistics.median(lat) if lat else float("nan")
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
    label = f"{kind:<10} {'idle' if not rate else f'{rate}/s'} {mode}"
    return Run(label, sent / elapsed if rate else 0.0, len(stored_at), len(lat), p50, p99)


def latency_table(kinds: list[str], seconds: float, rate: int) -> None:
    print(
        f"\n{'database / load / delivery':<32}{'msg/s':>8}{'alerts':>8}{'p50 ms':>9}{'p99 ms':>9}{'p99 vs idle':>13}"
    )
    for kind in kinds:
        idle = bench_latency(kind, "worker", min(seconds, 10.0), 0)
        runs = [
            idle,
            bench_latency(kind, "poll", seconds, rate),
            bench_latency(kind, "worker", seconds, rate),
        ]
        for run in runs:
            ratio = run.p99 / idle.p99 if idle.p99 else float("nan")
            print(
                f"{run.label:<32}{run.rate:>8,.0f}{run.received:>4}/{run.sent:<3}{run.p50 * 1000:>9.0f}"
                f"{run.p99 * 1000:>9.0f}{ratio:>12.1f}x"
            )
    print("target: p99 <= 2000 ms under 1,000 msg/s; 'poll' = the previous wiring, 'worker' = the daemon's")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    if args.posts:
        bench_clustering(args.posts)
    latency_table(["sqlite", "postgresql"] if args.db == "both" else [args.db], args.seconds, args.rate)


if __name__ == "__main__":
    main()
