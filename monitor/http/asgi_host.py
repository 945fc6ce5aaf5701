"""The daemon's HTTP application without a server: requests arrive as data from the front process.

With the HTTP front process (:mod:`monitor.http.front`) the daemon no longer listens, but every
route other than the intake's fast path (ack links, status, pages, health, metrics, OpenAPI) must
still be answered by the daemon's own application - it reads the daemon's memory (health,
metrics) or writes through the daemon's write turns. :class:`AsgiHost` runs that application on an
event loop thread of its own (lifespan started as uvicorn would) and answers a request given as
its ASGI scope and whole body with ``(status, headers, body)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any

from litestar import Litestar

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


class AsgiHost:
    def __init__(self, app: Litestar) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="http-host", daemon=True)
        self._lifespan: asyncio.Queue[dict[str, Any]] | None = None
        self._state: dict[str, Any] = {}

    def start(self, timeout: float = 10.0) -> AsgiHost:
        self._thread.start()
        self._run(self._startup()).result(timeout)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._lifespan is not None:
            with contextlib.suppress(Exception):
                self._run(self._shutdown()).result(timeout)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)

    def call(self, scope: dict[str, Any], body: bytes) -> Future[Answer]:
        """Answer one request (thread-safe); the future is done when the whole answer is ready."""
        return self._run(self._request(scope, body))

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    async def _startup(self) -> None:
        self._lifespan = asyncio.Queue()
        started: asyncio.Future[None] = self.loop.create_future()
        self._stopped: asyncio.Future[None] = self.loop.create_future()

        async def send(message: dict[str, Any]) -> None:
            kind = message["type"]
            target = started if kind.startswith("lifespan.startup") else self._stopped
            if not target.done():
                if kind.endswith(".failed"):
                    target.set_exception(RuntimeError(message.get("message", kind)))
                else:
                    target.set_result(None)

        assert self._lifespan is not None
        queue = self._lifespan
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self._state}
        self._lifespan_task = self.loop.create_task(self.app(scope, queue.get, send))  # type: ignore[arg-type]
        await queue.put({"type": "lifespan.startup"})
        await started

    async def _shutdown(self) -> None:
        assert self._lifespan is not None
        await self._lifespan.put({"type": "lifespan.shutdown"})
        await self._stopped

    async def _request(self, scope: dict[str, Any], body: bytes) -> Answer:
        answered = asyncio.Event()
        parts: list[bytes] = []
        start: dict[str, Any] = {}
        sent_body = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await answered.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
                if not message.get("more_body", False):
                    answered.set()

        await self.app({**scope, "state": dict(self._state)}, receive, send)  # type: ignore[arg-type]
        answered.set()
        headers = [(bytes(k), bytes(v)) for k, v in start.get("headers", [])]
        return int(start.get("status", 500)), headers, b"".join(parts)
