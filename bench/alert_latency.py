"""Alert latency and clustering throughput (issue 7).

1. Clustering: 100,000 posts (10,000 stories x 10 near-duplicate reposts, plus noise) through
   fingerprint + ClusterIndex, against a same-run baseline of raw blake2b hashing of the texts.
2. Latency: a background load of ~1,000 messages/s through ``process_batch`` on SQLite while
   urgent messages are injected; each alert goes through the outbox to a local HTTP receiver.
   p50/p99 from the message's stored time (the batch commit) to its arrival at the receiver.

Run: .venv/bin/python bench/alert_latency.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.alerts.outbox import Outbox
from monitor.alerts.senders.registry import sender_class
from monitor.config import AlertsConfig, TargetConfig
from monitor.message import Author, Batch, Message
from monitor.pipeline import process_batch
from monitor.storage.db import Database
from monitor.tickets.clusters import ClusterIndex
from monitor.tickets.fingerprint import fingerprint
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
        out.append(story if variant == 0 else f"转发微博//@用户{i}: {story}" if variant % 2 else f"{story} #话题{variant}# http://t.cn/{i}")
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
    print(f"{'fingerprint + cluster (MinHash LSH)':<38}{n:>9}{took:>10.2f}{n / took:>12,.0f}{took / raw:>8.1f}x")
    print(f"clusters: {len(index):,} (expected {n // 10:,}); target <= 10 s: {'OK' if took <= 10 else 'MISSED'}")


def bench_latency(seconds: float, rate: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    db = Database(f"sqlite:///{tmp / 'bench.db'}")
    db.upgrade()
    analyzer = KeywordStub({"紧急": ("L1", True)})
    target = TargetConfig(name="hook", kind="webhook", min_priority="L1")
    stored_at: dict[str, float] = {}
    arrived: dict[str, float] = {}
    with receiver() as r:
        original = r.server.RequestHandlerClass.do_POST  # type: ignore[attr-defined]

        def stamped(handler: object) -> None:
            original(handler)
            body = r.requests[-1].json
            arrived[body["external_id"]] = time.perf_counter()

        r.server.RequestHandlerClass.do_POST = stamped  # type: ignore[attr-defined]
        cls = sender_class("webhook")
        outbox = Outbox(db, {"hook": cls("hook", cls.Config.model_validate({"url": f"{r.url}/hook"}))}, AlertsConfig(), instance="b")
        stop = threading.Event()

        def deliver() -> None:
            while not stop.is_set():
                if not outbox.deliver().sent:
                    time.sleep(0.02)

        worker = threading.Thread(target=deliver, daemon=True)
        worker.start()
        rng = random.Random(1)
        sent = 0
        started = time.perf_counter()
        batch_no = 0
        while time.perf_counter() - started < seconds:
            tick = time.perf_counter()
            messages = []
            for i in range(rate // 10):
                urgent = i == 0 and batch_no % 5 == 0
                text = ("紧急 " if urgent else "") + "".join(rng.choice(CHARS) for _ in range(30))
                messages.append(Message(source="load", external_id=f"m{sent}", thread_key=f"t{sent}", text=text,
                                        created_at=datetime.now(UTC), author=Author("u", "u")))
                sent += 1
            process_batch(db, "load", "bench", Batch(tuple(messages), {}), analyzer, [target])
            now = time.perf_counter()
            for m in messages:
                if m.text.startswith("紧急"):
                    stored_at[m.external_id] = now
            batch_no += 1
            time.sleep(max(0.0, 0.1 - (time.perf_counter() - tick)))
        elapsed = time.perf_counter() - started
        deadline = time.perf_counter() + 5
        while len(arrived) < len(stored_at) and time.perf_counter() < deadline:
            time.sleep(0.05)
        stop.set()
        worker.join()
    lat = sorted(arrived[k] - stored_at[k] for k in stored_at if k in arrived)
    p50 = statistics.median(lat) if lat else float("nan")
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
    print(f"\nbackground load: {sent:,} messages in {elapsed:.1f} s = {sent / elapsed:,.0f} msg/s (SQLite, one writer)")
    print(f"alerts: {len(stored_at)} urgent, {len(lat)} received; stored -> received p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
          f" (target p99 <= 2 s: {'OK' if p99 <= 2 else 'MISSED'})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=1000)
    args = parser.parse_args()
    bench_clustering(args.posts)
    bench_latency(args.seconds, args.rate)


if __name__ == "__main__":
    main()
