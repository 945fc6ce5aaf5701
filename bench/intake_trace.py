"""Timing trace of the daemon under bench/intake.py (issue 13): where a slow request's time goes.

``install(path)`` wraps, in the daemon process, the points a submission passes and the things
that can hold it up, and appends one JSON line per event to ``path`` (flushed every 0.2 s by a
thread of its own). Clocks are ``time.perf_counter`` (CLOCK_MONOTONIC on Linux), comparable with
the bench client's. Nothing of the daemon changes except these wrappers; ``intake.py --trace``
starts the daemon through :func:`main` and :func:`report` joins the events with the client's
latencies.

Events (``k``):

  req     one POST as the ASGI app saw it: start, end, and the handler's marks (submit start,
          prepare start/end in the worker thread, future resolved), keyed by Idempotency-Key
  take    the intake writer took a group: its keys, time
  group   write_group of the intake writer: start, end, thread CPU seconds
  batch   process_batch (intake groups and poll batches): thread, messages, start, end, CPU
  prep    a poll batch's prepare (read known ids + analysis, poll thread): start, end
  turn    a SQLite write turn: thread, urgent, asked, got, released
  commit  COMMIT of a connection: start, end, WAL file size after
  gc      a cyclic GC run: generation, start, end
  lag     the event loop ran a 2 ms sleep late by more than 2 ms: when, how late
  rcv     front process mode (``http.front_process``): the daemon received a prepared submission
          from the child over the channel: key, time (the request's own marks are in the child)
  ans     front process mode: the answer of a submission was sent back to the child: key, start, end
"""

from __future__ import annotations

import asyncio
import collections
import gc
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

now = time.perf_counter
EVENTS: collections.deque[dict[str, Any]] = collections.deque()  # flushed and dropped every 0.2 s


def emit(kind: str, **fields: Any) -> None:
    fields["k"] = kind
    fields.setdefault("th", threading.current_thread().name)
    EVENTS.append(fields)  # deque.append and popleft are atomic under the GIL


def _flusher(path: Path) -> None:
    with path.open("a", encoding="utf-8") as out:
        while True:
            time.sleep(0.2)
            lines = []
            while EVENTS:
                lines.append(json.dumps(EVENTS.popleft()) + "\n")
            out.write("".join(lines))
            out.flush()


def install(path: Path) -> None:
    from sqlalchemy.engine.default import DefaultDialect

    import monitor.http.intake_api as api
    import monitor.http.server as server
    import monitor.intake.submit as submit
    import monitor.intake.writer as writer
    import monitor.pipeline as pipeline
    from monitor.storage.db import WriteTurns

    threading.Thread(target=_flusher, args=(path,), name="trace-flush", daemon=True).start()

    # GC pauses
    gc_start: dict[str, float] = {}

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_start["t"], gc_start["cpu"] = now(), time.thread_time()
        else:
            end, cpu = now(), time.thread_time() - gc_start.get("cpu", time.thread_time())
            census: dict[str, int] = {}
            if info["generation"] == 2 and os.environ.get("INTAKE_TRACE_GC_CENSUS"):  # what a full collection walks
                for obj in gc.get_objects(2):
                    name = type(obj).__module__ + "." + type(obj).__qualname__
                    census[name] = census.get(name, 0) + 1
                census = dict(sorted(census.items(), key=lambda x: -x[1])[:25])
            emit("gc", gen=info["generation"], s=gc_start.get("t", end), e=end, cpu=cpu, n=info.get("collected", 0),
                 census=census, tracked=len(gc.get_objects(2)) if census else 0,
                 frozen=gc.get_freeze_count() if census else 0)  # O(frozen objects): only with the census

    gc.callbacks.append(on_gc)

    # SQLite write turns
    original_turn = WriteTurns.turn

    @contextmanager
    def turn(self: WriteTurns, *, urgent: bool = False) -> Iterator[None]:
        asked = now()
        with original_turn(self, urgent=urgent):
            got = now()
            try:
                yield
            finally:
                emit("turn", urgent=urgent, asked=asked, got=got, rel=now())

    WriteTurns.turn = turn  # type: ignore[method-assign]

    # COMMIT (fsync of the WAL with synchronous=NORMAL only at checkpoints)
    original_commit = DefaultDialect.do_commit

    def do_commit(self: Any, dbapi_connection: Any) -> None:
        start = now()
        original_commit(self, dbapi_connection)
        wal = 0
        try:
            name = dbapi_connection.execute("PRAGMA database_list").fetchone()[2]
            wal = os.path.getsize(name + "-wal") if name else 0
        except Exception:
            pass
        emit("commit", s=start, e=now(), wal=wal)

    DefaultDialect.do_commit = do_commit  # type: ignore[method-assign]

    # process_batch: intake groups and poll batches (both modules hold their own reference)
    original_batch = pipeline.process_batch

    def process_batch(context: Any, source_name: str, source_kind: str, batch: Any, **kw: Any) -> Any:
        start, cpu = now(), time.thread_time()
        try:
            return original_batch(context, source_name, source_kind, batch, **kw)
        finally:
            emit("batch", src=source_name, n=len(batch.messages), s=start, e=now(), cpu=time.thread_time() - cpu)

    pipeline.process_batch = process_batch  # type: ignore[assignment]
    submit.process_batch = process_batch  # type: ignore[assignment]

    original_prepare = pipeline.prepare

    def prepare(context: Any, source_name: str, batch: Any) -> Any:
        start, cpu = now(), time.thread_time()
        try:
            return original_prepare(context, source_name, batch)
        finally:
            emit("prep", src=source_name, n=len(batch.messages), s=start, e=now(), cpu=time.thread_time() - cpu)

    pipeline.prepare = prepare  # type: ignore[assignment]

    # background WAL checkpoints (monitor.storage.wal, where the branch has it)
    try:
        from monitor.storage.wal import WalCheckpointer
    except ImportError:
        pass
    else:
        original_checkpoint = WalCheckpointer.checkpoint

        def checkpoint(self: Any, connection: Any) -> None:
            start, restarts = now(), self.restarts
            original_checkpoint(self, connection)
            emit("ckpt", s=start, e=now(), restarted=self.restarts - restarts)

        WalCheckpointer.checkpoint = checkpoint  # type: ignore[method-assign]

    # the intake writer
    original_take = writer.GroupWriter._take

    def take(self: Any) -> Any:
        group = original_take(self)
        emit("take", t=now(), keys=[item.idempotency_key for item, _ in group])
        return group

    writer.GroupWriter._take = take  # type: ignore[method-assign]
    original_group = writer.write_group

    profile_over = float(os.environ.get("INTAKE_TRACE_PROFILE_MS", "0")) / 1000

    def write_group(*args: Any, **kw: Any) -> Any:
        start, cpu = now(), time.thread_time()
        profiler = None
        if profile_over:  # what a slow group did: its own cProfile, kept only when it was slow
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        try:
            return original_group(*args, **kw)
        finally:
            used = time.thread_time() - cpu
            top: list[tuple[str, float]] = []
            if profiler is not None:
                profiler.disable()
                if used > profile_over:
                    import pstats

                    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
                    rows = sorted(stats.items(), key=lambda item: -item[1][3])[:40]
                    top = [(f"{f[2]} {f[0].rsplit('/', 2)[-1]}:{f[1]}", round(v[3] * 1000, 2)) for f, v in rows]
            emit("group", s=start, e=now(), cpu=used, n=len(args[3]), top=top)

    writer.write_group = write_group  # type: ignore[assignment]

    # the request's marks: submit_keyed (loop), enqueue (worker thread)
    marks: dict[str, dict[str, float]] = {}
    original_submit_keyed = api.Intake.submit_keyed
    original_enqueue = api.Intake.enqueue

    async def submit_keyed(self: Any, api_key: Any, body: Any, key: Any, address: Any) -> Any:
        mark = marks.setdefault(key or "", {})
        mark["sub"] = now()
        try:
            return await original_submit_keyed(self, api_key, body, key, address)
        finally:
            mark["done"] = now()

    def enqueue(self: Any, client: Any, feedback: Any, uploads: Any, key: Any, address: Any) -> Any:
        mark = marks.setdefault(key or "", {})
        mark["prep"] = now()
        try:
            return original_enqueue(self, client, feedback, uploads, key, address)
        finally:
            mark["queued"] = now()

    api.Intake.submit_keyed = submit_keyed  # type: ignore[method-assign]
    api.Intake.enqueue = enqueue  # type: ignore[method-assign]

    # front process mode: arrival in the daemon over the channel, the answer sent back
    import monitor.http.front_intake as front_intake

    original_front_submit = front_intake.FrontIntake.submit

    def front_submit(self: Any, payload: Any) -> Any:
        key = payload[0].idempotency_key or ""
        emit("rcv", key=key, t=now())
        future = original_front_submit(self, payload)

        def answered(_: Any) -> None:
            emit("ans", key=key, t=now())

        future.add_done_callback(answered)  # runs before the channel's own callback (added later)
        return future

    front_intake.FrontIntake.submit = front_submit  # type: ignore[method-assign]

    # ASGI: the request as the application saw it, and event-loop lag
    original_init = server.HttpServer.__init__

    def init(self: Any, app: Any, **kw: Any) -> None:
        original_init(self, traced(app, marks), **kw)

    server.HttpServer.__init__ = init  # type: ignore[method-assign]


def traced(app: Any, marks: dict[str, dict[str, float]]) -> Any:
    watching: list[bool] = []

    async def lag() -> None:
        while True:
            start = now()
            await asyncio.sleep(0.002)
            late = now() - start - 0.002
            if late > 0.002:
                emit("lag", t=start, late=late)

    async def wrapper(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if not watching:
            watching.append(True)
            asyncio.get_running_loop().create_task(lag())
        if scope["type"] != "http" or scope["path"] != "/api/v1/feedback":
            await app(scope, receive, send)
            return
        start = now()
        key = dict(scope["headers"]).get(b"idempotency-key", b"").decode()
        status = [0]

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        await app(scope, receive, sending)
        emit("req", key=key, s=start, e=now(), status=status[0], **marks.pop(key, {}))

    return wrapper


def experiments(spec: str) -> None:
    """INTAKE_TRACE_EXP="switch=0.001,ckpt=bg,refreeze=5": changes tried in the daemon before
    they are made in the code (each only with its key)."""
    options = dict(item.split("=", 1) for item in spec.split(",") if "=" in item)
    if "switch" in options:
        sys.setswitchinterval(float(options["switch"]))
    if options.get("ckpt") == "bg":
        import sqlite3

        from sqlalchemy import Engine, event

        files: set[str] = set()

        @event.listens_for(Engine, "connect")
        def no_auto(dbapi_connection: Any, _record: Any) -> None:
            if isinstance(dbapi_connection, sqlite3.Connection):
                dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")
                name = dbapi_connection.execute("PRAGMA database_list").fetchone()[2]
                if name and name not in files:
                    files.add(name)
                    threading.Thread(target=checkpointer, args=(name,), name="trace-ckpt", daemon=True).start()

        def checkpointer(name: str) -> None:
            conn = sqlite3.connect(name, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=30000")
            while True:
                time.sleep(float(options.get("ckpt_every", "0.5")))
                start = now()
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                emit("ckpt", s=start, e=now(), restarted=0)
    if "refreeze" in options:
        def refreeze() -> None:
            time.sleep(float(options["refreeze"]))
            gc.collect()
            gc.freeze()
            emit("refreeze", t=now(), frozen=gc.get_freeze_count())

        threading.Thread(target=refreeze, name="trace-refreeze", daemon=True).start()


def main() -> int:
    """``python bench/intake_trace.py TRACE -- <yuqing cli args>``: the daemon with the trace."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    install(Path(sys.argv[1]))
    experiments(os.environ.get("INTAKE_TRACE_EXP", ""))
    from monitor.cli import main as cli_main

    return cli_main(sys.argv[3:])


# --- the report ------------------------------------------------------------------------------


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def overlap(s: float, e: float, spans: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(e, b) - max(s, a)) for a, b in spans)


def report(path: Path, client: dict[str, tuple[float, float]], top: float = 0.01) -> str:
    """The slowest ``top`` of requests (client latency), their time split into stages, and what
    else ran meanwhile; with the same split for the median request as a reference."""
    events = load(path)
    by: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by.setdefault(event["k"], []).append(event)
    reqs = {r["key"]: r for r in by.get("req", [])}
    take_at: dict[str, float] = {}
    for t in by.get("take", []):
        for key in t["keys"]:
            take_at[key] = t["t"]
    groups = sorted(by.get("group", []), key=lambda g: g["s"])
    group_starts = [g["s"] for g in groups]
    writer_turns = sorted((t for t in by.get("turn", []) if t["th"] == "intake-writer"), key=lambda t: t["asked"])
    poll_turns = [(t["got"], t["rel"]) for t in by.get("turn", []) if t["th"] != "intake-writer"]
    gc2 = [(g["s"], g["e"]) for g in by.get("gc", []) if g["gen"] == 2]
    gcall = [(g["s"], g["e"]) for g in by.get("gc", [])]
    lags = [(x["t"], x["t"] + x["late"] + 0.002) for x in by.get("lag", [])]
    commits = sorted((c["s"], c["e"]) for c in by.get("commit", []))
    preps = [(p["s"], p["e"]) for p in by.get("prep", []) if p["src"] != "intake"]
    polls = [(b["s"], b["e"]) for b in by.get("batch", []) if b["src"] != "intake"]

    import bisect

    received = {r["key"]: r["t"] for r in by.get("rcv", [])}
    answered = {r["key"]: r["t"] for r in by.get("ans", [])}

    def others(due: float, done: float) -> dict[str, float]:
        return {
            "∥ poll txn": overlap(due, done, poll_turns),
            "∥ poll prep": overlap(due, done, preps),
            "∥ poll batch": overlap(due, done, polls),
            "∥ gc2": overlap(due, done, gc2),
            "∥ gc any": overlap(due, done, gcall),
        }

    def group_of(took: float) -> tuple[dict[str, Any], dict[str, float]] | None:
        """The writer's group that started after ``took`` and its stages: the start, the wait for
        the write turn, the commit, the rest, and its CPU."""
        i = bisect.bisect_right(group_starts, took) if groups else 0
        g = groups[i] if i < len(groups) else None
        if g is None:
            return None
        t = next((t for t in writer_turns if g["s"] <= t["asked"] <= g["e"]), None)
        turn_wait = (t["got"] - t["asked"]) if t else 0.0
        commit = overlap(g["s"], g["e"], commits)
        return g, {
            "group start": g["s"] - took,
            "turn wait": turn_wait,
            "commit": commit,
            "group other": g["e"] - g["s"] - turn_wait - commit,
            "group cpu": g["cpu"],
        }

    def front_split(key: str, due: float, done: float) -> dict[str, float] | None:
        """A request of the front process: the child's part (HTTP, checks, analysis, the pipe)
        before and after the daemon's, which is split as in-process."""
        took = take_at[key]
        found = group_of(took)
        if found is None:
            return None
        g, stages = found
        return {
            "total": done - due,
            "child in": received[key] - due,
            "writer queue": took - received[key],
            **stages,
            "to answer": answered.get(key, g["e"]) - g["e"],
            "child out": done - answered.get(key, g["e"]),
            "group n": g["n"],
            **others(due, done),
        }

    def split(key: str) -> dict[str, float] | None:
        due, done = client[key]
        r = reqs.get(key)
        if r is None and key in received and key in take_at:
            return front_split(key, due, done)
        if r is None or "queued" not in r or "done" not in r or key not in take_at:
            return None
        took = take_at[key]
        found = group_of(took)
        if found is None:
            return None
        g, stages = found
        return {
            "total": done - due,
            "client->app": r["s"] - due,
            "app->handler": r["sub"] - r["s"],
            "to thread": r["prep"] - r["sub"],
            "prepare": r["queued"] - r["prep"],
            "writer queue": took - r["queued"],
            **stages,
            "back to loop": r["done"] - g["e"],
            "response": r["e"] - r["done"],
            "app->client": done - r["e"],
            "group n": g["n"],
            # what else ran during the request (seconds of overlap)
            "∥ poll txn": overlap(due, done, poll_turns),
            "∥ poll prep": overlap(due, done, preps),
            "∥ poll batch": overlap(due, done, polls),
            "∥ gc2": overlap(due, done, gc2),
            "∥ gc any": overlap(due, done, gcall),
            "∥ loop lag": overlap(due, done, lags),
        }

    rows = [(key, split(key)) for key in client]
    good = sorted(((k, s) for k, s in rows if s is not None), key=lambda x: x[1]["total"])
    if not good:
        return "trace: no request could be joined"
    count = max(1, int(len(good) * top))
    slow = [s for _, s in good[-count:]]
    middle = [s for _, s in good[len(good) // 2 - 5: len(good) // 2 + 5]]
    names = list(slow[0])
    lines = [f"\ntail decomposition: slowest {count} of {len(good)} joined requests (mean ms; median request for reference)"]
    lines.append(f"{'stage':<14} {'slowest 1%':>10} {'max of them':>11} {'median req':>10}")
    for name in names:
        scale = 1 if name == "group n" else 1000
        lines.append(f"{name:<14} {statistics.fmean(s[name] for s in slow) * scale:>10.1f} "
                     f"{max(s[name] for s in slow) * scale:>11.1f} {statistics.fmean(s[name] for s in middle) * scale:>10.1f}")
    polls_b = [b for b in by.get("batch", []) if b["src"] != "intake"]
    lines.append("")
    if polls_b:
        cpu = sorted(b["cpu"] * 1000 for b in polls_b)
        mails = sum(b["n"] for b in polls_b)
        lines.append(f"poll transactions: {len(polls_b)}, messages median {statistics.median(b['n'] for b in polls_b):.0f} "
                     f"max {max(b['n'] for b in polls_b)}; CPU ms median {statistics.median(cpu):.1f} p90 "
                     f"{cpu[int(len(cpu) * 0.9)]:.1f} max {cpu[-1]:.1f}; CPU ms per mail {sum(cpu) / max(1, mails):.2f}")
    holders: dict[str, list[float]] = {}
    for t in by.get("turn", []):
        holders.setdefault(t["th"].split("_")[0], []).append((t["rel"] - t["got"]) * 1000)
    for name, held in sorted(holders.items()):
        held.sort()
        lines.append(f"write turn held by {name}: {len(held)} times, ms median {statistics.median(held):.1f} "
                     f"p90 {held[int(len(held) * 0.9)]:.1f} max {held[-1]:.1f}")
    if groups:
        lines.append(f"intake groups: {len(groups)}, size mean {statistics.fmean(g['n'] for g in groups):.1f}; ms median "
                     f"{statistics.median((g['e'] - g['s']) * 1000 for g in groups):.1f} p99 "
                     f"{sorted((g['e'] - g['s']) * 1000 for g in groups)[int(len(groups) * 0.99)]:.1f}; "
                     f"cpu ms median {statistics.median(g['cpu'] * 1000 for g in groups):.1f}; "
                     f"waiting (wall - cpu) ms median {statistics.median((g['e'] - g['s'] - g['cpu']) * 1000 for g in groups):.1f} "
                     f"p99 {sorted((g['e'] - g['s'] - g['cpu']) * 1000 for g in groups)[int(len(groups) * 0.99)]:.1f}")
    cms = sorted((e - s) * 1000 for s, e in commits)
    if cms:
        lines.append(f"commits: {len(cms)}, ms median {statistics.median(cms):.2f} p99 {cms[int(len(cms) * 0.99)]:.1f} max {cms[-1]:.1f}")
    for gen in (0, 1, 2):
        pauses = sorted((g["e"] - g["s"]) * 1000 for g in by.get("gc", []) if g["gen"] == gen)
        if pauses:
            cpus = sorted(g["cpu"] * 1000 for g in by.get("gc", []) if g["gen"] == gen)
            lines.append(f"gc gen {gen}: {len(pauses)} runs, ms median {statistics.median(pauses):.2f} max {pauses[-1]:.1f} "
                         f"(cpu median {statistics.median(cpus):.2f} max {cpus[-1]:.1f})")
    ckpts = sorted((c["e"] - c["s"]) * 1000 for c in by.get("ckpt", []))
    if ckpts:
        lines.append(f"background checkpoints: {len(ckpts)}, ms median {statistics.median(ckpts):.1f} max {ckpts[-1]:.1f}, "
                     f"log restarts {sum(c['restarted'] for c in by.get('ckpt', []))}")
    late = sorted(x["late"] * 1000 for x in by.get("lag", []))
    if late:
        lines.append(f"event-loop lag > 2 ms: {len(late)} times, median {statistics.median(late):.1f} max {late[-1]:.1f} ms")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
