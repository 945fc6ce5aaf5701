"""The one IPC channel between the daemon and its HTTP front process (:mod:`monitor.http.front`).

Both ends speak the same small protocol over a :func:`multiprocessing.Pipe` end, in tuples
``(kind, id, payload)``:

* a request (``id`` > 0) is answered by ``("ok", id, value)`` or ``("err", id, (kind, data))``;
* a notice (``id`` 0) is not answered (configuration pushed to the child, "ready").

Requests are served by a callable of the receiving end that returns a value or a
:class:`~concurrent.futures.Future`; the answer is sent when it is done, so the reader thread never
waits for a write group. Exceptions cross as data, not pickled objects (an HTTP error's status,
detail and headers; an Idempotency-Key conflict), and are raised again on the other side exactly
as the in-process code raises them. When the other end goes away (the daemon or the child died),
every waiting request fails with :class:`ChannelClosed` and ``on_close`` runs once.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing.connection import Connection
from typing import Any

import structlog
from litestar.exceptions import HTTPException

from monitor.intake.submit import IdempotencyConflict

log = structlog.get_logger("yuqing.http")

Serve = Callable[[str, Any], Any]
"""What a request or notice of a kind does; may return a Future (answered when it is done)."""


class ChannelClosed(ConnectionError):
    """The other process is gone (or never answered before it went)."""


class RemoteError(RuntimeError):
    """An unexpected error in the other process; its class and message, never its traceback."""


def encode_error(exc: BaseException) -> tuple[str, Any]:
    if isinstance(exc, HTTPException):
        return "http", (exc.status_code, exc.detail, dict(exc.headers or {}))
    if isinstance(exc, IdempotencyConflict):
        return "conflict", str(exc.args[0]) if exc.args else ""
    return "error", f"{type(exc).__name__}: {exc}"


def decode_error(kind: str, data: Any) -> Exception:
    if kind == "http":
        status, detail, headers = data
        return HTTPException(status_code=status, detail=detail, headers=headers or None)
    if kind == "conflict":
        return IdempotencyConflict(data)
    return RemoteError(str(data))


class Channel:
    """One end: send requests and notices, serve the other end's, from one reader thread."""

    def __init__(self, conn: Connection, serve: Serve, *, on_close: Callable[[], None] = lambda: None, name: str = "channel") -> None:
        self.conn, self.serve, self.on_close = conn, serve, on_close
        self._send_lock = threading.Lock()
        self._pending: dict[int, Future[Any]] = {}
        self._pending_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closed = False
        self._reader = threading.Thread(target=self._read, name=name, daemon=True)
        self._answers: queue.SimpleQueue[tuple[int, Future[Any]] | None] = queue.SimpleQueue()
        self._answerer = threading.Thread(target=self._answer_all, name=f"{name}-answers", daemon=True)

    def start(self) -> Channel:
        self._reader.start()
        self._answerer.start()
        return self

    @property
    def closed(self) -> bool:
        return self._closed

    def call(self, kind: str, payload: Any) -> Future[Any]:
        """Send a request; the future holds the answer (or the other side's error)."""
        future: Future[Any] = Future()
        ident = next(self._ids)
        with self._pending_lock:
            if self._closed:
                future.set_exception(ChannelClosed(kind))
                return future
            self._pending[ident] = future
        try:
            self._send((kind, ident, payload))
        except (OSError, ValueError) as exc:
            with self._pending_lock:
                self._pending.pop(ident, None)
            future.set_exception(ChannelClosed(f"{kind}: {exc}"))
        return future

    def notify(self, kind: str, payload: Any = None) -> bool:
        """Send a notice; False when the other end is gone."""
        try:
            self._send((kind, 0, payload))
            return True
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        self.conn.close()

    def _send(self, message: tuple[str, int, Any]) -> None:
        with self._send_lock:
            self.conn.send(message)

    def _answer_all(self) -> None:
        """Answers of requests served by a Future, sent from this thread: the thread that completes
        the future (the intake's writer, between its groups) only queues them."""
        while (done := self._answers.get()) is not None:
            self._answer(*done)

    def _answer(self, ident: int, future: Future[Any]) -> None:
        exc = future.exception()
        message = ("err", ident, encode_error(exc)) if exc is not None else ("ok", ident, future.result())
        try:
            self._send(message)
        except (OSError, ValueError):  # the requester is gone; nothing waits for this answer
            pass
        except Exception as error:  # an answer that does not pickle: the requester still gets one
            self._send(("err", ident, encode_error(error)))

    def _read(self) -> None:
        while True:
            try:
                kind, ident, payload = self.conn.recv()
            except (EOFError, OSError):
                break
            if kind in ("ok", "err"):
                with self._pending_lock:
                    future = self._pending.pop(ident, None)
                if future is not None:
                    if kind == "ok":
                        future.set_result(payload)
                    else:
                        future.set_exception(decode_error(*payload))
                continue
            self._dispatch(kind, ident, payload)
        with self._pending_lock:
            self._closed = True
            waiting, self._pending = list(self._pending.values()), {}
        for future in waiting:
            future.set_exception(ChannelClosed("the other process is gone"))
        self._answers.put(None)
        self.on_close()

    def _dispatch(self, kind: str, ident: int, payload: Any) -> None:
        try:
            result = self.serve(kind, payload)
        except Exception as exc:
            if ident:
                self._send_quietly(("err", ident, encode_error(exc)))
            else:
                log.error("front_notice_failed", kind=kind, error=f"{type(exc).__name__}: {exc}")
            return
        if not ident:
            return
        if isinstance(result, Future):
            result.add_done_callback(lambda done: self._answers.put((ident, done)))
        else:
            self._send_quietly(("ok", ident, result))

    def _send_quietly(self, message: tuple[str, int, Any]) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._send(message)
