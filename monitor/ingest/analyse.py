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
* **Overlap**: :meth:`AnalysisPool.submit` returns at once with a :class:`PendingAnalysis`, so the
  caller can store one batch while the workers analyse the next. Workers get the messages without
  their HTML alternative (analysis reads title and text) and may also compute a caller's pure
  ``extra`` per message (the clustering fingerprint), so that work leaves the storing process too.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

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


_WARM_UP_TEXT = "预热 warm up ①"
"""Analysed once before the workers fork, so what the analyzer builds on first use is inherited
(jieba's dictionary, the sentiment model; ``①`` is a character NFKC changes, so normalization's
table of those, ~0.1-0.25 s of CPU per process, is built here once instead of in every worker)."""


def _worker_start(parent: int) -> None:
    """Runs first in each worker: everything inherited frozen, the daemon's signal handlers out,
    then watch the daemon.

    ``gc.freeze()``: what the worker inherits (the analyzer with its rule sets and models, the
    daemon's own objects) lives as long as the worker; frozen, the worker's full collections walk
    only what the worker allocates itself. Unfrozen, each full collection walked the whole
    inherited heap (~0.1 s each, 0.2-0.3 s of CPU per worker per 1,000 long mails,
    bench/imap_fetch.py) and wrote to every object's header, copying the shared pages. A cycle
    that was garbage at fork time is never collected here (what the parent left, bounded).

    A forked worker inherits the daemon's Python signal handlers. When one worker dies, the pool
    terminates the others with SIGTERM; with the daemon's handler a worker only logged "signal"
    and kept running, and the daemon waited for it forever while rebuilding the pool (found by
    the worker-kill crash test). Workers die on SIGTERM and leave SIGINT/SIGHUP to the daemon
    (Ctrl-C and a terminal hang-up reach the whole process group).
    """
    gc.freeze()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    _watch_parent(parent)


def _watch_parent(parent: int) -> None:
    """Exit when the daemon is gone (SIGKILL leaves no one to shut us down)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


Extra = Callable[[Message], Any]
"""A pure per-message computation the workers do next to the analysis (a module-level function)."""


def _analyse_chunk(messages: Sequence[Message], extra: Extra | None) -> tuple[list[Analysis], list[Any]]:
    """Runs in a worker: the analyzer is the one inherited from the parent at fork time."""
    assert _INHERITED is not None, "analysis worker started without an analyzer"
    analyses = [_INHERITED(message) for message in messages]
    return analyses, ([extra(message) for message in messages] if extra is not None else [])


def _slim(message: Message) -> Message:
    """The message as analysis sees it: no HTML alternative (often larger than the text) to pickle."""
    return replace(message, html=None) if message.html else message


@dataclass
class PendingAnalysis:
    """A batch submitted to the workers; :meth:`result` waits for it (and repairs a broken pool)."""

    pool: AnalysisPool
    analyzer: Analyzer
    messages: Sequence[Message]
    futures: list[Future[tuple[list[Analysis], list[Any]]]]
    extra: Extra | None
    extras: list[Any] | None = None

    def result(self) -> list[Analysis]:
        """Every message's analysis, in order; ``extras`` holds the extra values (None if the batch
        had to be analysed again after a worker died, or in-process)."""
        try:
            analyses: list[Analysis] = []
            extras: list[Any] = []
            for future in self.futures:
                part, more = future.result()
                analyses.extend(part)
                extras.extend(more)
            self.extras = extras if self.extra is not None else None
            return analyses
        except (BrokenProcessPool, CancelledError):
            # a worker died, or another source's batch replaced the workers after a rule reload
            log.warning("analysis_resubmitted", messages=len(self.messages))
            return self.pool.analyse(self.analyzer, self.messages)

    def cancel(self) -> None:
        for future in self.futures:
            future.cancel()


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

    def submit(self, analyzer: Analyzer, messages: Sequence[Message], extra: Extra | None = None) -> PendingAnalysis:
        """Start analysing ``messages`` in the workers and return without waiting."""
        with self._lock:
            try:
                futures = self._submit(analyzer, messages, extra)
            except BrokenProcessPool:
                self._shutdown()
                futures = []
        pending = PendingAnalysis(self, analyzer, messages, futures, extra)
        if not futures and messages:  # the pool broke while submitting: result() analyses again
            pending.futures = [self._failed()]
        return pending

    @staticmethod
    def _failed() -> Future[tuple[list[Analysis], list[Any]]]:
        future: Future[tuple[list[Analysis], list[Any]]] = Future()
        future.set_exception(BrokenProcessPool("analysis pool broke while submitting"))
        return future

    def pids(self) -> list[int]:
        """The worker processes' ids (for operators and the crash test)."""
        executor = self._executor
        processes = getattr(executor, "_processes", None) or {}
        return sorted(processes)

    def close(self) -> None:
        with self._lock:
            self._shutdown()

    def _run(self, analyzer: Analyzer, messages: Sequence[Message]) -> list[Analysis]:
        out: list[Analysis] = []
        for future in self._submit(analyzer, messages, None):
            out.extend(future.result()[0])
        return out

    def _submit(
        self, analyzer: Analyzer, messages: Sequence[Message], extra: Extra | None
    ) -> list[Future[tuple[list[Analysis], list[Any]]]]:
        executor = self._ready(analyzer)
        size = max(1, -(-len(messages) // (self.workers * _CHUNKS_PER_WORKER)))
        return [
            executor.submit(_analyse_chunk, [_slim(m) for m in messages[start : start + size]], extra)
            for start in range(0, len(messages), size)
        ]

    def _ready(self, analyzer: Analyzer) -> ProcessPoolExecutor:
        if self._executor is not None and self._analyzer is analyzer:
            return self._executor
        self._shutdown()  # rules reloaded (or first batch): workers must hold the new analyzer
        # Load what the analyzer loads lazily here, once (_WARM_UP_TEXT): the workers inherit it
        # copy-on-write instead of each loading it again.
        analyzer(Message("warm-up", "warm-up", "warm-up", _WARM_UP_TEXT, datetime.now(UTC)))
        global _INHERITED
        _INHERITED = analyzer
        executor = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_worker_start,
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
