"""Run the (pure) analysis of a batch in worker processes; storage stays in the caller's process.

``analysis.workers: 1`` analyses in-process. With more, an :class:`AnalysisPool` keeps that many
forked workers: the live analyzer is inherited at fork time (no pickling of rule sets or the
tokenizer), each batch is cut into ordered chunks and the results come back in message order.

* **Hot reload**: the pool remembers which analyzer its workers hold; when the pipeline context
  carries another one (rules reloaded), the workers are replaced before the next batch is
  analysed, never in the middle of one.
* **A worker dies** (OOM killer, SIGKILL): nothing was stored yet (analysis runs before the batch
  transaction), so the pool is rebuilt and the whole batch analysed again; if that fails too the
  batch is analysed in-process. Each message is stored exactly once either way.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime

import structlog

from monitor.findings import Analysis, Analyzer
from monitor.message import Message

log = structlog.get_logger(__name__)

_INHERITED: Analyzer | None = None  # set in the parent just before the workers fork
_CHUNKS_PER_WORKER = 2  # a little slack so one slow chunk does not idle the other workers


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _watch_parent(parent: int) -> None:
    """Runs in each worker: exit when the daemon is gone (SIGKILL leaves no one to shut us down)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _analyse_chunk(messages: Sequence[Message]) -> list[Analysis]:
    """Runs in a worker: the analyzer is the one inherited from the parent at fork time."""
    assert _INHERITED is not None, "analysis worker started without an analyzer"
    return [_INHERITED(message) for message in messages]


class AnalysisPool:
    """``workers`` forked analysis processes, replaced when the analyzer changes."""

    def __init__(self, workers: int) -> None:
        if workers < 2:
            raise ValueError("an analysis pool needs at least 2 workers (1 analyses in-process)")
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._analyzer: Analyzer | None = None
        self._lock = threading.Lock()  # one batch at a time per pool (sources poll in threads)

    def analyse(self, analyzer: Analyzer, messages: Sequence[Message]) -> list[Analysis]:
        """Every message's analysis, in order."""
        if not messages:
            return []
        with self._lock:
            for attempt in (1, 2):
                try:
                    return self._run(analyzer, messages)
                except BrokenProcessPool:
                    log.warning("analysis_worker_died", attempt=attempt, messages=len(messages))
                    self._shutdown()
            log.error("analysis_workers_failing", messages=len(messages), fallback="in-process")
            return [analyzer(message) for message in messages]

    def pids(self) -> list[int]:
        """The worker processes' ids (for operators and the crash test)."""
        executor = self._executor
        processes = getattr(executor, "_processes", None) or {}
        return sorted(processes)

    def close(self) -> None:
        with self._lock:
            self._shutdown()

    def _run(self, analyzer: Analyzer, messages: Sequence[Message]) -> list[Analysis]:
        executor = self._ready(analyzer)
        size = max(1, -(-len(messages) // (self.workers * _CHUNKS_PER_WORKER)))
        futures: list[Future[list[Analysis]]] = [
            executor.submit(_analyse_chunk, list(messages[start : start + size]))
            for start in range(0, len(messages), size)
        ]
        out: list[Analysis] = []
        for future in futures:
            out.extend(future.result())
        return out

    def _ready(self, analyzer: Analyzer) -> ProcessPoolExecutor:
        if self._executor is not None and self._analyzer is analyzer:
            return self._executor
        self._shutdown()  # rules reloaded (or first batch): workers must hold the new analyzer
        # Load what the analyzer loads lazily (jieba's dictionary, the sentiment model) here, once:
        # the workers inherit it copy-on-write instead of each loading it again.
        analyzer(Message("warm-up", "warm-up", "warm-up", "预热 warm up", datetime.now(UTC)))
        global _INHERITED
        _INHERITED = analyzer
        executor = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_watch_parent,
            initargs=(os.getpid(),),
        )
        # start every worker now, while _INHERITED is this analyzer (they fork lazily otherwise)
        for future in [executor.submit(os.getpid) for _ in range(self.workers)]:
            future.result()
        self._executor, self._analyzer = executor, analyzer
        return executor

    def _shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        self._executor, self._analyzer = None, None


def analyse_batch(
    analyzer: Analyzer, pool: AnalysisPool | None, messages: Sequence[Message]
) -> list[Analysis]:
    """In-process without a pool, else in the pool's workers."""
    if pool is None:
        return [analyzer(message) for message in messages]
    return pool.analyse(analyzer, messages)
