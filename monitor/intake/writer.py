"""Group commit for the intake: one thread writes the submissions that arrive together in one
pipeline transaction.

Each submission alone costs a full transaction (messages, ticket, routing, stories, commit); at
hundreds a second on SQLite that, not the HTTP layer, is the limit. Request threads hand a
prepared submission to this writer and wait; the writer takes everything queued (up to
``max_group``) and writes it with :func:`monitor.intake.submit.write_group` - the requests that
arrived while one transaction ran go in the next. A lone request is written at once.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

import structlog

from monitor.intake.submit import Pending, Receipt, write_group
from monitor.pipeline import PipelineContext

log = structlog.get_logger("yuqing.intake")


class GroupWriter:
    def __init__(
        self,
        pipeline: Callable[[], PipelineContext],
        source: Callable[[], str],
        secret: bytes,
        *,
        max_group: int = 200,
    ) -> None:
        self.pipeline, self.source, self.secret, self.max_group = pipeline, source, secret, max_group
        self._queue: queue.Queue[tuple[Pending, Future[Receipt]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def write(self, item: Pending, timeout: float = 60.0) -> Receipt:
        return self.submit(item).result(timeout)

    def submit(self, item: Pending) -> Future[Receipt]:
        """Queue the item; the future is done once its group is committed. An HTTP handler awaits
        it on the event loop (``asyncio.wrap_future``) instead of parking a worker thread on it."""
        self._ensure_running()
        future: Future[Receipt] = Future()
        self._queue.put((item, future))
        return future

    def _ensure_running(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="intake-writer", daemon=True)
                self._thread.start()

    def _take(self) -> list[tuple[Pending, Future[Receipt]]]:
        """The next group: the oldest waiting item and whatever is queued behind it."""
        group = [self._queue.get()]
        while len(group) < self.max_group:
            try:
                group.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return group

    def _run(self) -> None:
        while True:
            group = self._take()
            try:
                receipts = write_group(self.pipeline(), self.source(), self.secret, [item for item, _ in group])
            except Exception as exc:  # each waiting request gets the error; the writer keeps going
                log.error("intake_write_failed", size=len(group), error=f"{type(exc).__name__}: {exc}")
                for _, future in group:
                    future.set_exception(exc)
                continue
            for (_, future), answer in zip(group, receipts, strict=True):
                if isinstance(answer, Exception):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)
