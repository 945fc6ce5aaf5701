"""The daemon survives SIGKILL at random moments: nothing lost, nothing doubled, every alert once.

5,000 generated messages in 250 threads arrive as 50 JSONL files dropped into the source folder
over a few seconds (each file appears atomically by rename, as a well-behaved producer does) and
are read by ``yuqing run`` (a real subprocess) in batches of 50. The daemon is killed with SIGKILL
five times - at seeded moments spread over the run: once a random share of the messages is
stored, and every other time right after the next alert line reaches the sink (the moment most
likely to fall between "written to the sink" and "marked sent") - and restarted each time. Then
it finishes and is stopped with SIGTERM.

At every kill the test records which alerts were already in the JSONL sink while their outbox row
was still pending: those are exactly the alerts the restarted daemon sends again. The JSONL sink
recognises them by alert id (docs/reliability.md), so the file must hold every alert exactly once.
"""

from __future__ import annotations

import collections
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers.workload import Workload, generate, query, scalar, sink_ids, write_config, write_rules

MESSAGES = 5_000
THREADS = 250
BATCH = 50
KILLS = 5
SEED = 20240504
REPO = Path(__file__).resolve().parents[1]
FINISH_TIMEOUT = 90.0
STAGE_TIMEOUT = 45.0
FILES = 50
FEED_PAUSE = 0.12  # seconds between two files: the whole feed takes about six seconds


@dataclass
class Kill:
    trigger: str  # "messages": once enough are stored; "sink": at the next alert line after that
    threshold: int
    stored: int = 0
    sent_lines: int = 0
    exposed: list[int] = field(default_factory=list)  # in the sink, still pending: will be re-sent


class Feeder(threading.Thread):
    """Moves the generated files into the source folder one by one, like a producer would."""

    def __init__(self, files: list[Path], folder: Path) -> None:
        super().__init__(daemon=True)
        self.files = files
        self.folder = folder
        self.done = threading.Event()

    def run(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for path in self.files:
            os.rename(path, self.folder / path.name)
            time.sleep(FEED_PAUSE)
        self.done.set()


@dataclass
class Harness:
    tmp: Path
    config: Path
    database: Path
    sink: Path
    feeder: Feeder
    total: int
    runs: int = 0

    def start(self) -> subprocess.Popen[bytes]:
        self.runs += 1
        log = (self.tmp / f"daemon-{self.runs}.log").open("wb")
        return subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "-c", str(self.config), "run"],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def log_tail(self) -> str:
        text = (self.tmp / f"daemon-{self.runs}.log").read_text(encoding="utf-8", errors="replace")
        return text[-3000:]

    def stored(self) -> int:
        return int(scalar(self.database, "SELECT count(*) FROM messages") or 0)

    def pending(self) -> set[int]:
        return {r[0] for r in query(self.database, "SELECT id FROM alerts WHERE status = 'pending'")}

    def started(self) -> bool:
        log = (self.tmp / f"daemon-{self.runs}.log").read_text(encoding="utf-8", errors="replace")
        return '"event": "started"' in log

    def idle(self) -> bool:
        """Everything fed, stored and delivered: nothing left for a kill to interrupt."""
        return self.feeder.done.is_set() and self.stored() == self.total and not self.pending()

    def wait_for(self, process: subprocess.Popen[bytes], done: Callable[[], bool], pause: float) -> None:
        """Poll until ``done()`` (or idle); fail with the daemon's log if it dies or time runs out."""
        deadline = time.monotonic() + STAGE_TIMEOUT
        while not done() and not (self.idle() and self.started()):
            if not self.feeder.is_alive() and not self.feeder.done.is_set():
                pytest.fail("the feeder thread died")
            if process.poll() is not None:
                pytest.fail(f"daemon exited with {process.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"timed out waiting for the daemon:\n{self.log_tail()}")
            time.sleep(pause)


def kill_plan(rng: random.Random) -> list[Kill]:
    """Five moments spread over the run: one random share of the messages per fifth of it.

    Alternate kills wait, after that share is stored, for the next alert line to reach the sink
    and strike at once - between "written to the sink" and "marked sent" when they can.
    """
    low, high = 0.05, 0.9
    step = (high - low) / KILLS
    first = rng.choice(("messages", "sink"))
    other = "sink" if first == "messages" else "messages"
    return [
        Kill(
            first if i % 2 == 0 else other, int(MESSAGES * rng.uniform(low + i * step, low + (i + 1) * step))
        )
        for i in range(KILLS)
    ]


def run_with_kills(harness: Harness, plan: list[Kill], rng: random.Random) -> None:
    for kill in plan:
        process = harness.start()
        floor = max(kill.threshold, harness.stored() + 1)
        harness.wait_for(process, lambda f=floor: harness.stored() >= f, rng.uniform(0.002, 0.02))
        if kill.trigger == "sink":
            lines = len(sink_ids(harness.sink))
            harness.wait_for(process, lambda n=lines: len(sink_ids(harness.sink)) > n, 0.001)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        kill.stored = harness.stored()
        in_sink = sink_ids(harness.sink)
        kill.sent_lines = len(in_sink)
        kill.exposed = sorted(set(in_sink) & harness.pending())


def finish(harness: Harness, work: Workload) -> int:
    """Restart, wait until everything is stored and delivered, stop with SIGTERM; the exit code."""
    process = harness.start()
    harness.wait_for(process, harness.started, 0.05)  # SIGTERM before the handlers exist kills

    def complete() -> bool:
        alerts = {r[0] for r in query(harness.database, "SELECT id FROM alerts")}
        return (
            harness.stored() == work.count and not harness.pending() and alerts <= set(sink_ids(harness.sink))
        )

    deadline = time.monotonic() + FINISH_TIMEOUT
    while not complete() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    assert process.poll() is None, f"daemon exited early:\n{harness.log_tail()}"
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"daemon did not stop within 15 s of SIGTERM:\n{harness.log_tail()}")


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    work = generate(
        tmp_path / "staging", messages=MESSAGES, threads=THREADS, files=FILES, alert_ratio=0.1, seed=SEED
    )
    database = tmp_path / "state" / "yuqing.db"
    sink = tmp_path / "alerts.jsonl"
    config = write_config(
        tmp_path / "yuqing.yaml",
        source=tmp_path / "in",
        rules=write_rules(tmp_path / "rules"),
        database=database,
        sink=sink,
        batch_size=BATCH,
        workers=2,  # analysis in two worker processes with read-ahead (issue 16), whatever the cores
    )
    harness = Harness(tmp_path, config, database, sink, Feeder(work.files, tmp_path / "in"), MESSAGES)
    alerting_threads = [t for t in work.threads if work.thread_priority(t)]
    rng = random.Random(SEED)
    plan = kill_plan(rng)

    (tmp_path / "in").mkdir()
    harness.feeder.start()
    run_with_kills(harness, plan, rng)
    exit_code = finish(harness, work)

    exposed = sorted({a for k in plan for a in k.exposed})
    report = [
        f"kill ({k.trigger}) after {k.threshold} stored: stored={k.stored} sink lines={k.sent_lines} "
        f"in sink but pending={k.exposed}"
        for k in plan
    ]
    print("\n".join(["crash test kills:", *report, f"re-sends offered to the sink: {len(exposed)}"]))
    assert exit_code == 0, harness.log_tail()

    # every message stored exactly once
    stored = [r[0] for r in query(database, "SELECT external_id FROM messages")]
    assert len(stored) == MESSAGES
    assert sorted(stored) == sorted(work.ids)
    assert scalar(database, "SELECT count(*) FROM quarantine") == 0

    # exactly one ticket per thread, well-formed unique codes, every message on its thread's ticket
    tickets = query(database, "SELECT id, code, thread_key, priority FROM tickets")
    assert sorted(t[2] for t in tickets) == sorted(work.threads)
    codes = [t[1] for t in tickets]
    assert len(set(codes)) == len(codes) == THREADS
    assert all(re.fullmatch(r"Q\d{6}", c) for c in codes), codes[:5]
    on_own_ticket = scalar(
        database,
        "SELECT count(*) FROM messages m JOIN tickets t ON m.ticket_id = t.id"
        " WHERE m.thread_key = t.thread_key",
    )
    assert on_own_ticket == MESSAGES
    events = query(
        database, "SELECT count(*), count(DISTINCT message_id) FROM ticket_events WHERE kind = 'message'"
    )
    assert events == [(MESSAGES, MESSAGES)], "one audit event per message, none replayed"
    assert {t[2]: t[3] for t in tickets} == {t: work.thread_priority(t) for t in work.threads}

    # every alerting thread was told at its final priority, inside the story (near-duplicate
    # cluster) it belongs to - a story pages once and re-notifies on a raise; nothing else alerted
    alerts = query(database, "SELECT id, dedupe_key, status, attempts, story_id, priority FROM alerts")
    stories: dict[int, set[int]] = {r[0]: set() for r in query(database, "SELECT id FROM stories")}
    for story_id, ticket_id in query(database, "SELECT story_id, ticket_id FROM story_tickets"):
        stories[story_id].add(ticket_id)
    told: dict[int, str] = {}
    for alert in alerts:
        told[alert[4]] = min(told.get(alert[4], "L3"), alert[5])  # "L1" < "L2" < "L3"
    by_thread = {t[2]: t for t in tickets}
    for thread in alerting_threads:
        ticket = by_thread[thread]
        levels = [told[s] for s, members in stories.items() if ticket[0] in members and s in told]
        assert levels and min(levels) <= ticket[3], (thread, ticket, levels)
    alerting_ids = {by_thread[t][0] for t in alerting_threads}
    assert set(told) == set(stories), "every story was paged"
    assert all(members & alerting_ids for members in stories.values()), "no story without an alerting ticket"
    assert len(alerting_threads) >= 100 and len(alerts) >= len(stories)
    assert {a[2] for a in alerts} == {"sent"}

    # the sink holds every alert exactly once, whatever was re-sent after a kill
    lines = sink_ids(sink)
    duplicates = len(lines) - len(set(lines))
    print(f"alerts: {len(alerts)}, sink lines: {len(lines)}, duplicate lines: {duplicates}")
    print(f"alert rows claimed more than once: {sum(1 for a in alerts if a[3] > 1)}")
    assert duplicates == 0, collections.Counter(lines).most_common(5)
    assert set(lines) == {a[0] for a in alerts}
    for alert_id in exposed:  # offered again after the restart, recognised by the sink
        assert alert_id in lines


def _children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (the daemon's analysis workers), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    """The process is on a CPU or waiting for one: an analysis worker in the middle of a chunk
    (an idle worker sleeps on its call queue)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] == "R"
    except OSError:
        return False


WORKER_KILLS = 3


@pytest.mark.slow
def test_sigkill_of_an_analysis_worker_mid_batch_stores_the_batch_once(tmp_path: Path) -> None:
    """``analysis.workers: 2``: an analysis worker killed while it analyses part of a batch (the OOM
    killer, an operator) costs the batch a second analysis, never a lost or doubled message; the
    daemon keeps running on new workers. The default rules make a 500-post batch take long
    enough that the kill lands inside it (the worker is seen running, not idle)."""
    messages, threads = 3_000, 150
    work = generate(tmp_path / "staging", messages=messages, threads=threads, files=6, alert_ratio=0.05, seed=SEED)
    database = tmp_path / "state" / "yuqing.db"
    config = write_config(
        tmp_path / "yuqing.yaml", source=tmp_path / "in", rules=REPO / "rules", database=database,
        sink=tmp_path / "alerts.jsonl", batch_size=500, workers=2,
    )
    harness = Harness(tmp_path, config, database, tmp_path / "alerts.jsonl", Feeder(work.files, tmp_path / "in"),
                      messages)
    process = harness.start()
    killed: list[int] = []
    try:
        deadline = time.monotonic() + FINISH_TIMEOUT
        while not harness.started() and time.monotonic() < deadline:
            assert process.poll() is None, harness.log_tail()
            time.sleep(0.05)
        harness.feeder.start()
        while harness.stored() < messages and time.monotonic() < deadline:
            assert process.poll() is None, harness.log_tail()
            busy = [pid for pid in _children(process.pid) if _running(pid) and pid not in killed]
            if busy and len(killed) < WORKER_KILLS:
                os.kill(busy[0], signal.SIGKILL)
                killed.append(busy[0])
                time.sleep(0.5)  # let the pool be rebuilt before the next kill
            time.sleep(0.005)
        assert harness.stored() == messages, f"stored {harness.stored()} of {messages}:\n{harness.log_tail()}"
        assert process.poll() is None, "the daemon survived its workers' deaths"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    log = (tmp_path / f"daemon-{harness.runs}.log").read_text(encoding="utf-8", errors="replace")
    assert killed, "no analysis worker was ever seen analysing"
    assert '"analysis_resubmitted"' in log or '"analysis_worker_died"' in log, "no batch lost its workers"
    stored = [r[0] for r in query(database, "SELECT external_id FROM messages")]
    assert sorted(stored) == sorted(work.ids)  # each message once
    [(events, distinct)] = query(
        database, "SELECT count(*), count(DISTINCT message_id) FROM ticket_events WHERE kind = 'message'"
    )
    assert events == distinct > messages * 0.9, "one audit event per ticketed message, none replayed"
    doubled = query(database, "SELECT thread_key FROM tickets GROUP BY thread_key HAVING count(*) > 1")
    assert doubled == [] and scalar(database, "SELECT count(*) FROM tickets") <= threads
