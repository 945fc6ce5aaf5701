"""Analysis before storage: known messages are not analysed again; worker processes give the same
results in the same order, pick up reloaded rules and survive a killed worker."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from connectors.reposts import PostKeys
from monitor.findings import Analysis, Finding, Match, Sentiment
from monitor.ingest.analyse import AnalysisPool
from monitor.ingest.store import message_keys
from monitor.message import Author, Batch, Engagement, Message
from monitor.pipeline import prepare, process_batch
from monitor.storage.db import Database
from monitor.storage.models import StoredMessage
from monitor.tickets.fingerprint import Fingerprint
from tests.helpers.builders import KeywordStub, message
from tests.helpers.context import context

REPO = Path(__file__).resolve().parents[2]
STUB = KeywordStub({"投诉": ("L2", True), "建议": ("L3", False)})


class Counting:
    """The stub analyzer, counting the messages it saw (in this process)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, msg: Message) -> Analysis:
        self.seen.append(msg.external_id)
        return STUB(msg)


def stored(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(StoredMessage)) or 0)


def test_a_replayed_batch_costs_a_lookup_not_an_analysis(sqlite_db: Database) -> None:
    counting = Counting()
    first = Batch(tuple(message(f"m{i}", text="投诉 快递") for i in range(5)), {"pos": 5})
    process_batch(context(sqlite_db, counting), "src", "files", first)
    replay = Batch((*first.messages, message("new", text="建议"), message("new", text="建议")), {"pos": 7})
    stats = process_batch(context(sqlite_db, counting), "src", "files", replay)
    assert counting.seen == ["m0", "m1", "m2", "m3", "m4", "new"]
    assert (stats.new, stats.duplicates) == (1, 6)
    assert stored(sqlite_db) == 6


@pytest.fixture
def pool() -> Iterator[AnalysisPool]:
    made = AnalysisPool(2)
    yield made
    made.close()


def texts(count: int) -> list[Message]:
    words = ("投诉 售后", "建议 增加", "普通 留言")
    return [message(f"m{i}", text=f"{words[i % 3]} {i}") for i in range(count)]


def test_workers_return_the_in_process_results_in_order(pool: AnalysisPool) -> None:
    batch = texts(101)
    assert pool.analyse(STUB, batch) == [STUB(m) for m in batch]
    assert len(pool.pids()) == 2 and os.getpid() not in pool.pids()


def test_reloaded_rules_reach_the_workers_from_the_next_batch(pool: AnalysisPool) -> None:
    batch = texts(12)
    before = pool.analyse(STUB, batch)
    reloaded = KeywordStub({"留言": ("L1", True)})
    after = pool.analyse(reloaded, batch)
    assert [a.priority for a in before[:3]] == ["L2", "L3", None]
    assert [a.priority for a in after[:3]] == [None, None, "L1"]


class Slow:
    """Slow enough that a worker can be killed while it holds part of the batch."""

    def __call__(self, msg: Message) -> Analysis:
        time.sleep(0.02)
        return STUB(msg)


def test_a_worker_killed_mid_batch_leaves_the_batch_processed_once(
    sqlite_db: Database, pool: AnalysisPool
) -> None:
    slow = Slow()
    pool.analyse(slow, texts(2))  # workers up, holding this analyzer
    victim = pool.pids()[0]
    killer = threading.Timer(0.3, os.kill, (victim, signal.SIGKILL))
    killer.start()
    batch = Batch(tuple(texts(120)), {"pos": 120})
    stats = process_batch(context(sqlite_db, slow, pool=pool), "src", "files", batch)
    killer.join()
    assert victim not in pool.pids()
    assert (stats.new, stats.duplicates) == (120, 0)
    assert stored(sqlite_db) == 120
    again = process_batch(context(sqlite_db, slow, pool=pool), "src", "files", batch)
    assert (again.new, again.duplicates) == (0, 120)


def test_workers_exit_when_the_daemon_is_killed(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from monitor.ingest.analyse import AnalysisPool\n"
        "from tests.helpers.builders import KeywordStub, message\n"
        "pool = AnalysisPool(2)\n"
        "pool.analyse(KeywordStub({}), [message('a')])\n"
        "print(' '.join(map(str, pool.pids())), flush=True)\n"
        "time.sleep(60)\n"
    )
    daemon = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert daemon.stdout is not None
    workers = [int(pid) for pid in daemon.stdout.readline().split()]
    assert len(workers) == 2
    daemon.kill()
    daemon.wait()
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize(("workers", "pooled"), [(1, None), (2, 2)], ids=["in-process", "two-workers"])
def test_the_runtime_builds_the_pool_from_analysis_workers(
    tmp_path: Path, workers: int, pooled: int | None
) -> None:
    import json

    from monitor.config import load_config
    from monitor.runtime import Runtime
    from tests.helpers.workload import write_config, write_rules

    path = write_config(
        tmp_path / "yuqing.yaml",
        source=tmp_path,
        rules=write_rules(tmp_path / "rules"),
        database=tmp_path / "y.db",
    )
    settings = json.loads(path.read_text(encoding="utf-8"))
    settings["analysis"] = {"workers": workers}
    path.write_text(json.dumps(settings), encoding="utf-8")
    runtime = Runtime(load_config(path))
    try:
        pool = runtime.context().pool
        assert (pool.workers if pool is not None else None) == pooled
    finally:
        runtime.close()


AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
FINDING = Finding(
    "r.refund", "L2", True, (Match("退款", 3, 5), Match("refund", 0, 6, "title")), "complaint", "service",
    "billing", ("money", "vip"), True,
)
CROSSING = [
    Match("退款", 3, 5, "title"),
    FINDING,
    Sentiment(-0.25, "negative"),
    Analysis((FINDING, Finding("r.other")), Sentiment(0.5, "positive")),
    Author("u1", "张三", 12),
    Engagement(1, 2, 3),
    Message(
        "src", "m1", "t1", "退款七天没到", AT, "email", Author("u1", "张三", 12), "Re: 退款", "<p>x</p>",
        "https://x.example/1", Engagement(1, 2, 3), "INBOX/7", "auto-reply", "<m1@x>", ("<m0@x>",), "退款",
        True, "Q000001", ("time-unparsed",),
    ),
    Fingerprint((1, 5, 9), (7, 11)),
    PostKeys("k", "root", ("owner",)),
]


@pytest.mark.parametrize("value", CROSSING, ids=lambda v: type(v).__name__)
def test_what_crosses_to_and_from_the_workers_pickles_every_field(value: Any) -> None:
    # the records rebuild themselves from a tuple (``__reduce__``, cheaper than a frozen slots
    # dataclass's own pickling); a field added to the class but not to that tuple fails here
    assert value.__reduce__()[1] == tuple(getattr(value, f.name) for f in fields(value))
    assert pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)) == value


def test_the_workers_compute_the_rows_repost_keys(sqlite_db: Database, pool: AnalysisPool) -> None:
    batch = Batch((*texts(9), message("chain", text="转发 //@老王:建议增加夜间配送，谢谢")), {"pos": 10})
    prepared = prepare(context(sqlite_db, STUB, pool=pool), "src", batch)
    analysed, _known = prepared.analysed()
    assert prepared.keys == {m.external_id: message_keys(m) for m, _analysis in analysed}
    assert prepared.keys["chain"].root_key  # a repost chain: its original's key
