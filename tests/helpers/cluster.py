"""Several ``yuqing run`` processes on one database: the multi-instance fault test and bench/scale.py.

Each of ``sources`` folders is one ``files`` source; the generated JSONL files are moved into the
folders over ``feed_seconds`` (rename: each file appears whole). Every instance has the same
sources and one webhook target pointing at a local HTTP receiver that counts deliveries by
``Idempotency-Key``. A monitor thread samples the ``leases`` table (who holds what when an
instance is killed); a takeover is timed from the kill to the first poll of each of the victim's
sources by another instance, as that instance logs it (``lease_first_poll``).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from monitor.storage.db import Database
from tests.helpers.receiver import Receiver
from tests.helpers.workload import Workload, generate, write_rules

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class SourceData:
    name: str
    folder: Path
    work: Workload


def make_sources(base: Path, *, sources: int, messages: int, files_per_source: int, seed: int) -> list[SourceData]:
    """Generated JSONL per source (kept in ``base/gen``, moved into ``base/in/<source>`` by the feeder)."""
    out: list[SourceData] = []
    per = messages // sources
    for n in range(sources):
        name = f"s{n:02d}"
        count = per + (1 if n < messages % sources else 0)
        work = generate(
            base / "gen" / name, messages=count, threads=max(1, count // 8), files=files_per_source, seed=seed + n
        )
        folder = base / "in" / name
        folder.mkdir(parents=True, exist_ok=True)
        out.append(SourceData(name, folder, work))
    return out


class Feeder(threading.Thread):
    """Moves the generated files into the source folders, spread evenly over ``seconds``."""

    def __init__(self, data: list[SourceData], seconds: float, seed: int) -> None:
        super().__init__(daemon=True)
        moves = [(path, item.folder / path.name) for item in data for path in item.work.files]
        random.Random(seed).shuffle(moves)
        self.moves = moves
        self.pause = seconds / max(1, len(moves))
        self.done = threading.Event()

    def run(self) -> None:
        for source, target in self.moves:
            os.rename(source, target)
            time.sleep(self.pause)
        self.done.set()


def write_instance_config(
    path: Path,
    *,
    instance: str,
    url: str,
    data: list[SourceData],
    rules: Path,
    hook: str,
    lease_seconds: float,
    interval: float,
    batch_size: int,
) -> Path:
    config: dict[str, Any] = {
        "instance": {"id": instance, "lease_seconds": lease_seconds},
        "state_dir": str(path.parent),
        "database": {"url": url},
        "logging": {"level": "info", "format": "json"},
        "rules": {"paths": [str(rules)], "watch_seconds": 60},
        "analysis": {"workers": 1},
        "scheduler": {"jitter_seconds": 0, "outbox_interval_seconds": 0.2, "shutdown_timeout_seconds": 5},
        "sources": [
            {
                "name": item.name,
                "kind": "files",
                "interval_seconds": interval,
                "batch_size": batch_size,
                "files": {"path": str(item.folder), "settle_seconds": 0},
            }
            for item in data
        ],
        "alerts": {
            "targets": [{"name": "hook", "kind": "webhook", "min_priority": "L3", "webhook": {"url": hook}}],
            "retry_base_seconds": 0.5,
            "retry_max_seconds": 2,
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


class Instance:
    """One ``yuqing run`` subprocess; restartable after a kill with the same id and config."""

    def __init__(self, name: str, config: Path) -> None:
        self.name = name
        self.config = config
        self.runs = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def log(self, run: int | None = None) -> Path:
        return self.config.parent / f"daemon-{run or self.runs}.log"

    def start(self) -> None:
        self.runs += 1
        handle = self.log().open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "-c", str(self.config), "run"],
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        handle.close()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pause(self) -> None:
        """SIGSTOP: alive but silent, like a long GC pause or a frozen VM; its leases run out."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 20) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def started(self) -> bool:
        """The current run logged ``started`` (signal handlers installed, sources scheduled)."""
        return self.runs > 0 and '"event": "started"' in self.log().read_text(encoding="utf-8", errors="replace")

    def events(self, event: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for run in range(1, self.runs + 1):
            for line in self.log(run).read_text(encoding="utf-8", errors="replace").splitlines():
                if line.startswith("{") and f'"{event}"' in line:
                    try:
                        item = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if item.get("event") == event:
                        out.append(item)
        return out

    def tail(self) -> str:
        return self.log().read_text(encoding="utf-8", errors="replace")[-3000:] if self.runs else ""


class LeaseMonitor(threading.Thread):
    """Samples the source leases: who held what when an instance is killed or paused."""

    def __init__(self, url: str, every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.engine = create_engine(url)
        self.every = every
        self.current: dict[str, tuple[str | None, int, Any]] = {}
        self.halt = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                with self.engine.connect() as conn:
                    rows = conn.execute(
                        text("SELECT name, holder, epoch, expires_at FROM leases WHERE name LIKE 'source:%'")
                    ).all()
            except Exception:
                rows = []
            with self._lock:
                for name, holder, epoch, expires in rows:
                    self.current[name] = (holder, int(epoch), expires)
            self.halt.wait(self.every)
        self.engine.dispose()

    def held_by(self, holder: str) -> dict[str, int]:
        """Source lease -> epoch, for the leases ``holder`` held at the last sample."""
        with self._lock:
            return {name: epoch for name, (who, epoch, _) in self.current.items() if who == holder}

    def expiries_of(self, holder: str) -> dict[str, datetime]:
        """Source lease -> when it expires, read now (after a kill: the last renewal it made)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT name, expires_at FROM leases WHERE name LIKE 'source:%' AND holder = :holder"),
                {"holder": holder},
            ).all()
        return {str(name): _aware(when) for name, when in rows}



def _aware(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@dataclass(frozen=True)
class Fault:
    """One SIGKILL or SIGSTOP: when (monotonic and wall clock), whom, what it held, what was stored."""

    at: float
    wall: datetime
    victim: str
    held: dict[str, int]  # source lease -> epoch
    expires: dict[str, datetime]  # source lease -> its expiry, read just after the fault
    stored: int


@dataclass(frozen=True)
class Takeover:
    """Kill of the holder -> first poll of the source by another instance (its own log line)."""

    source: str
    seconds: float
    after_expiry: float  # the part after the dead holder's lease expired


def first_polls(instances: list[Instance]) -> list[tuple[str, int, datetime, str]]:
    """(source lease, epoch, time, instance) of every first poll under a newly acquired lease."""
    out = []
    for instance in instances:
        for event in instance.events(POLL_EVENT):
            when = datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00"))
            out.append((f"source:{event['source']}", int(event["epoch"]), _aware(when), instance.name))
    return sorted(out, key=lambda item: item[2])


def takeovers(kills: list[Fault], polls: list[tuple[str, int, datetime, str]]) -> list[Takeover]:
    """For every source a killed instance held: kill -> the first poll by another instance."""
    out = []
    for kill in kills:
        for name, epoch in kill.held.items():
            # the victim itself comes back only after RESTART_AFTER: too late for the limit
            first = next((when for lease, e, when, _ in polls if lease == name and e > epoch), None)
            assert first is not None, f"{name} (held by the killed {kill.victim}) was never polled again"
            seconds = (first - kill.wall).total_seconds()
            expiry = (kill.expires[name] - kill.wall).total_seconds() if name in kill.expires else 0.0
            out.append(Takeover(name, seconds, seconds - max(0.0, expiry)))
    return out


class CountingReceiver(Receiver):
    """The test receiver, counting requests by ``Idempotency-Key``."""

    def keys(self) -> Counter[str]:
        return Counter(r.headers.get("Idempotency-Key", "") for r in list(self.requests))


def database_counts(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            messages = conn.execute(
                text("SELECT s.name, m.external_id FROM messages m JOIN sources s ON s.id = m.source_id")
            ).all()
            tickets = conn.execute(
                text("SELECT s.name, t.thread_key FROM tickets t JOIN sources s ON s.id = t.source_id")
            ).all()
            alerts = conn.execute(text("SELECT dedupe_key, target, status FROM alerts")).all()
    finally:
        engine.dispose()
    return {
        "messages": [(str(a), str(b)) for a, b in messages],
        "tickets": [(str(a), str(b)) for a, b in tickets],
        "alerts": [(str(a), str(b), str(c)) for a, b, c in alerts],
    }


def stored_count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM messages")).scalar() or 0)
    except Exception:
        return 0
    finally:
        engine.dispose()


def pending_alerts(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM alerts WHERE status = 'pending'")).scalar() or 0)
    except Exception:
        return -1
    finally:
        engine.dispose()


def prepare_rules(base: Path) -> Path:
    return write_rules(base / "rules")


# --- one fault run: feed, kill, restart, then what the database and the receiver hold ---------------
INSTANCES = 3
SOURCES = 20
MESSAGES = 2_000
FEED_SECONDS = 50.0
KILL_EVERY = 5.0
LEASE = 3.0
INTERVAL = 0.5
RESTART_AFTER = LEASE + 2.0  # the others must take over before the victim is back
SLACK = 1.0
"""Beyond lease + interval: process and thread scheduling on a loaded 2-core machine. The daemon
wakes when the dead holder's lease expires and polls what it took at once, so a takeover needs
the lease plus a few database round trips; the interval is the spec's allowance, not needed."""
POLL_EVENT = "lease_first_poll"  # the daemon's log line as it starts polling under a new lease
FINISH_TIMEOUT = 150.0


@dataclass(frozen=True)
class Size:
    instances: int = INSTANCES
    sources: int = SOURCES
    messages: int = MESSAGES
    feed_seconds: float = FEED_SECONDS
    kill_every: float = KILL_EVERY
    lease: float = LEASE
    interval: float = INTERVAL
    batch_size: int = 20
    timeout: float = FINISH_TIMEOUT
    pauses: bool = True
    """Every other fault is a SIGSTOP for the same time instead of a kill: the paused instance
    wakes up holding leases others have taken; whatever it was committing is fenced off."""


@dataclass
class Outcome:
    kills: list[Fault]
    pauses: list[Fault]
    takeovers: list[Takeover]
    counts: dict[str, object]
    keys: dict[str, int]
    lease_lost: int  # batches a stale instance could not commit (LeaseLost)
    taken_over: int  # leases a stale instance found taken over at its next renewal
    seconds: float
    expected_messages: set[tuple[str, str]]
    expected_threads: set[tuple[str, str]]


def run_cluster(tmp: Path, url: str, size: Size, *, seed: int = 17) -> Outcome:
    """Feed, kill and restart instances until everything is stored and delivered; then stop."""
    data = make_sources(tmp, sources=size.sources, messages=size.messages, files_per_source=4, seed=seed)
    rules = prepare_rules(tmp)
    schema = Database(url)
    schema.upgrade()  # once, before the instances race to start
    schema.dispose()
    receiver = CountingReceiver()
    receiver.thread.start()
    instances = [
        Instance(
            f"i{n}",
            write_instance_config(
                tmp / f"i{n}" / "yuqing.yaml",
                instance=f"i{n}",
                url=url,
                data=data,
                rules=rules,
                hook=f"{receiver.url}/hook",
                lease_seconds=size.lease,
                interval=size.interval,
                batch_size=size.batch_size,
            ),
        )
        for n in range(1, size.instances + 1)
    ]
    monitor = LeaseMonitor(url)
    feeder = Feeder(data, size.feed_seconds, seed)
    kills: list[Fault] = []
    pauses: list[Fault] = []
    down: dict[str, float] = {}  # victim -> when to restart (or resume) it
    paused: set[str] = set()
    started = time.monotonic()
    try:
        for instance in instances:
            instance.start()
        while not all(i.started() for i in instances):
            if time.monotonic() - started > size.timeout or not all(i.alive for i in instances):
                raise AssertionError("the instances did not start:\n" + "\n".join(i.tail() for i in instances))
            time.sleep(0.2)
        monitor.start()
        feeder.start()
        total = size.messages
        next_kill = time.monotonic() + size.kill_every
        turn = 0
        while True:
            now = time.monotonic()
            for instance in instances:
                if instance.name in down and now >= down[instance.name]:
                    del down[instance.name]
                    if instance.name in paused:
                        paused.discard(instance.name)
                        instance.resume()
                    else:
                        instance.start()
                elif instance.name not in down and not instance.alive:
                    raise AssertionError(f"{instance.name} exited by itself:\n{instance.tail()}")
            stored = stored_count(url)
            if feeder.done.is_set() and stored == total and pending_alerts(url) == 0 and not down:
                break
            up = not down and all(i.started() for i in instances)  # one instance down at a time
            if now >= next_kill and up and (not feeder.done.is_set() or stored < total):
                victim = instances[turn % len(instances)]
                turn += 1
                held = monitor.held_by(victim.name)
                at, wall = time.monotonic(), datetime.now(UTC)
                if size.pauses and turn % 2 == 0:
                    victim.pause()
                    paused.add(victim.name)
                    pauses.append(Fault(at, wall, victim.name, held, monitor.expiries_of(victim.name), stored))
                else:
                    victim.kill()  # from here on it renews nothing: its leases expire within LEASE
                    kills.append(Fault(at, wall, victim.name, held, monitor.expiries_of(victim.name), stored))
                down[victim.name] = time.monotonic() + RESTART_AFTER
                next_kill = time.monotonic() + size.kill_every
            if now - started > size.timeout:
                tails = "\n".join(f"--- {i.name}\n{i.tail()}" for i in instances)
                raise AssertionError(f"not finished in {size.timeout} s: stored {stored}/{total}\n{tails}")
            time.sleep(0.25)
        time.sleep(1.0)  # the last "sent" marks commit
        for instance in instances:  # a stop before the signal handlers are installed would be a kill
            deadline = time.monotonic() + 60
            while not instance.started() and time.monotonic() < deadline:
                time.sleep(0.2)
        for instance in instances:
            assert instance.stop() == 0, instance.tail()
        seconds = time.monotonic() - started
        return Outcome(
            kills,
            pauses,
            takeovers(kills, first_polls(instances)),
            database_counts(url),
            dict(receiver.keys()),
            sum(len(i.events("lease_lost")) for i in instances),
            sum(1 for i in instances for e in i.events("lease_released") if e.get("why") == "taken over"),
            seconds,
            {(d.name, m) for d in data for m in d.work.ids},
            {(d.name, t) for d in data for t in d.work.threads},
        )
    finally:
        for instance in instances:
            instance.resume()
            instance.kill()
        monitor.halt.set()
        if monitor.is_alive():
            monitor.join(5)
        receiver.server.shutdown()
        receiver.server.server_close()


def summary(outcome: Outcome) -> str:
    takeovers = sorted(t.seconds for t in outcome.takeovers)
    after = sorted(t.after_expiry for t in outcome.takeovers)
    resent = sum(n - 1 for n in outcome.keys.values())
    return (
        f"{len(outcome.counts['messages'])} messages, {len(outcome.counts['tickets'])} tickets, "  # type: ignore[arg-type]
        f"{len(outcome.keys)} notifications ({resent} re-sent with the same key), {len(outcome.kills)} kills, "
        f"{len(outcome.pauses)} pauses, "
        f"{len(takeovers)} takeovers kill -> first poll elsewhere (max {max(takeovers, default=0):.2f} s, "
        f"median {takeovers[len(takeovers) // 2] if takeovers else 0:.2f} s; after the lease expired: max "
        f"{max(after, default=0):.2f} s, median {after[len(after) // 2] if after else 0:.2f} s), "
        f"paused instances: {outcome.lease_lost} batches fenced (LeaseLost), {outcome.taken_over} leases found "
        f"taken over; {outcome.seconds:.0f} s"
    )


def check(outcome: Outcome, size: Size) -> None:
    counts = outcome.counts
    messages = counts["messages"]
    assert isinstance(messages, list) and isinstance(counts["tickets"], list) and isinstance(counts["alerts"], list)
    assert len(messages) == len(set(messages)), "a message was stored twice"
    assert set(messages) == outcome.expected_messages, "lost or unknown messages"
    tickets = counts["tickets"]
    assert len(tickets) == len(set(tickets)), "two tickets for one conversation"
    assert set(tickets) == outcome.expected_threads
    alerts = counts["alerts"]
    assert alerts and all(status == "sent" for _, _, status in alerts), "an alert was not delivered"
    expected = {f"{key}@{target}" for key, target, _ in alerts}
    assert set(outcome.keys) == expected, "the receiver's idempotency keys differ from the outbox"
    resent = sum(n - 1 for n in outcome.keys.values())
    faults = len(outcome.kills) + len(outcome.pauses)
    assert resent <= faults, f"{resent} re-sends for {faults} kills and pauses (at most one each)"
    assert outcome.kills and any(kill.stored < size.messages for kill in outcome.kills)
    assert outcome.takeovers, "no kill hit an instance holding sources"
    limit = size.lease + size.interval + SLACK
    slowest = max(outcome.takeovers, key=lambda t: t.seconds)
    assert slowest.seconds <= limit, f"takeover of {slowest.source} took {slowest.seconds:.2f} s > {limit} s"
