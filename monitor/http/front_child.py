"""The HTTP front process: uvicorn and the intake's request work, outside the daemon's GIL.

Started by the daemon (:mod:`monitor.http.front`) with the daemon's listening socket, one end of
a pipe and a :class:`FrontSpec` - all passed through multiprocessing's spawn pipe, so the
database URL and the HTTP key never appear on a command line. It serves:

* ``POST /api/v1/feedback`` here: the body read and parsed, the address and key rate limits, the
  key checked against the database, the fields validated, the files checked and stored, the
  message analysed (:mod:`monitor.http.front_rules`); the submission then goes to the daemon,
  which writes it in its group writer, and the receipt (or the error) comes back and is answered
  exactly as in-process;
* every other request by forwarding it whole to the daemon's own application
  (:class:`~monitor.http.asgi_host.AsgiHost`): ack links, status, hosted pages, health, metrics and
  OpenAPI are answered by the same code with the daemon's memory, as before.

The process ends when the daemon does: the pipe's end-of-file (the daemon exited or was killed)
stops the server, and a few seconds later the process, whatever is still running.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal

import structlog
import uvicorn
from litestar import Litestar

from monitor.http.front_channel import Channel
from monitor.http.front_rules import FrontRules, RulesSpec
from monitor.intake.settings import IntakeConfig

log = structlog.get_logger("yuqing.http")

INTAKE_PATH = "/api/v1/feedback"
SCOPE_KEYS = ("type", "asgi", "http_version", "method", "scheme", "path", "raw_path", "query_string",
              "root_path", "headers", "client", "server")
EXIT_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class FrontSpec:
    """What the front process needs; secrets masked in ``repr`` (it may reach a log)."""

    database_url: str = field(repr=False)
    secret: bytes = field(repr=False)
    state_dir: Path
    intake: IntakeConfig | None
    rules: RulesSpec | None
    """The daemon's live rules, for the intake's analysis here (None: the daemon analyses)."""
    max_body_bytes: int
    trusted_proxies: tuple[str, ...]
    log_level: str = "info"
    log_format: Literal["auto", "json", "console"] = "auto"


class _Live:
    """The configuration the daemon pushes after a reload."""

    def __init__(self, intake: IntakeConfig | None) -> None:
        self.intake = intake or IntakeConfig()


def _too_large() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = b'{"status_code":413,"detail":"Request Entity Too Large"}'
    return 413, [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())], body


class FrontApp:
    """The ASGI application of the front process: the intake's fast path, everything else forwarded."""

    def __init__(self, intake_app: Litestar, channel: Channel, max_body_bytes: int, *, intake: bool) -> None:
        self.intake_app, self.channel, self.max_body_bytes, self.intake = intake_app, channel, max_body_bytes, intake

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan" or (
            self.intake and scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == INTAKE_PATH
        ):
            await self.intake_app(scope, receive, send)  # type: ignore[arg-type]
        elif scope["type"] == "http":
            await self.forward(scope, receive, send)
        else:  # no websocket routes
            await send({"type": "websocket.close", "code": 1000})

    async def forward(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                return await self._answer(send, _too_large())
            if not message.get("more_body", False):
                break
        request = {k: scope[k] for k in SCOPE_KEYS if k in scope}
        try:
            answer = await asyncio.wrap_future(self.channel.call("http", (request, bytes(body))))
        except Exception as exc:  # the daemon is gone or failed: no answer of the application to give
            log.error("front_forward_failed", path=scope.get("path"), error=f"{type(exc).__name__}: {exc}")
            text = "服务暂不可用 / service unavailable".encode()
            answer = 503, [(b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", b"5")], text
        await self._answer(send, answer)

    @staticmethod
    async def _answer(send: Any, answer: tuple[int, list[tuple[bytes, bytes]], bytes]) -> None:
        status, headers, data = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})


def _intake_app(spec: FrontSpec, channel: Channel, live: _Live, rules: FrontRules, limits: list[Any]) -> Litestar:
    from monitor.http.app import _log_exception
    from monitor.http.context import HttpContext
    from monitor.http.intake_api import Intake, error, intake_api_router
    from monitor.intake.files import AttachmentError, Upload, check
    from monitor.intake.keys import Client
    from monitor.intake.submit import (
        Feedback,
        IdempotencyConflict,
        Origin,
        Receipt,
        compose,
        digest_of,
        replay_of,
    )
    from monitor.message import Message
    from monitor.storage.db import Database
    from monitor.storage.models import utcnow

    handlers: list[Any] = []
    if spec.intake is not None:
        ctx = HttpContext(
            db=Database(spec.database_url),
            secret=spec.secret,
            stories=lambda: None,  # type: ignore[arg-type,return-value]  # ack links are forwarded
            intake=lambda: live.intake,
            state_dir=spec.state_dir,
            max_body_bytes=spec.max_body_bytes,
        )

        def remote(
            client: Client, feedback: Feedback, uploads: list[Upload], key: str | None, address: str
        ) -> Future[Receipt]:
            """Files checked, the submission composed and analysed here; the write by the daemon."""
            settings = live.intake
            try:
                files = check(uploads, settings)
            except AttachmentError as exc:
                if exc.quarantine:  # the daemon checks it again, keeps it for the operator, answers
                    channel.call("check", (uploads, client, address)).result(60.0)
                raise error(exc.status, str(exc)) from None
            made: list[Any] = []

            def analyse(message: Message) -> tuple[Any, float]:
                analysis, seconds, *rest = rules.analyse(message)
                made.extend(rest)
                return analysis, seconds

            digest = digest_of(feedback, files, Origin())
            if key:  # a retry is answered here, and the daemon's writer need not look the key up again
                done: Future[Receipt] = Future()
                try:
                    replayed = replay_of(ctx.db, spec.secret, client, key, digest)
                except IdempotencyConflict as conflict:  # answered 409 as the writer's would be
                    done.set_exception(conflict)
                    return done
                if replayed is not None:
                    done.set_result(replayed)
                    return done
            pending = compose(settings.source, spec.state_dir, client, feedback, files, analyse,
                              idempotency_key=key, now=utcnow(), digest=digest, looked_up=True)
            return channel.call("submit", (pending, *made))

        intake = Intake(ctx, remote=remote)
        limits.append(intake.limits)
        handlers.append(intake_api_router(ctx, intake))
    return Litestar(
        route_handlers=handlers,
        openapi_config=None,
        request_max_body_size=spec.max_body_bytes,
        after_exception=[_log_exception],
        on_startup=[_settle_gc, lambda: channel.notify("ready")],
        logging_config=None,
        debug=False,
    )


def _settle_gc() -> None:
    """Short full collections here too (``monitor.gcfreeze``): what start-up built frozen, the
    survivors of the first requests frozen a few seconds later and then every minute. Without it
    a full collection walked the whole heap under the GIL every few seconds at 200/s."""
    from monitor import gcfreeze, switching
    from monitor.scheduler import GC_FIRST_SECONDS, GC_INTERVAL_SECONDS

    gcfreeze.settle()
    switching.apply()  # as the daemon: a request's thread gets the GIL back from the loop sooner
    refreeze = gcfreeze.Refreezer()

    def keep() -> None:
        pause = GC_FIRST_SECONDS
        while True:
            time.sleep(pause)
            refreeze()
            pause = GC_INTERVAL_SECONDS

    threading.Thread(target=keep, name="front-gc", daemon=True).start()


def main(spec: FrontSpec, conn: Connection, sock: socket.socket) -> None:
    """The front process's entry point (spawned; see the module docstring)."""
    from monitor.logging import configure_logging

    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # reload is the daemon's; a terminal hang-up too
    configure_logging(spec.log_level, spec.log_format)
    live = _Live(spec.intake)
    rules = FrontRules()
    server: uvicorn.Server | None = None

    limits: list[Any] = []  # the intake's Limits, once the application is built

    def serve(kind: str, payload: Any) -> Any:
        if kind == "limit":  # the daemon's hosted form: the same budgets as the API's (front.SharedLimiter)
            key, limit = payload
            return limits[0].submit.allow(key, limit) if limits else 0.0
        if kind == "intake":
            live.intake = payload
        elif kind == "rules":
            rules.load_in_background(payload)
        elif kind == "stop" and server is not None:
            server.should_exit = True

    def closed() -> None:
        """The daemon is gone: stop serving, and leave for certain a little later."""
        if server is not None:
            server.should_exit = True
        threading.Timer(EXIT_GRACE_SECONDS, os._exit, (0,)).start()

    channel = Channel(conn, serve, on_close=closed, name="front-channel")
    from monitor.http.server import uvicorn_config

    if spec.intake is not None:
        rules.load_in_background(spec.rules)
    app = FrontApp(_intake_app(spec, channel, live, rules, limits), channel, spec.max_body_bytes, intake=spec.intake is not None)
    server = uvicorn.Server(uvicorn_config(app, spec.trusted_proxies))
    channel.start()
    log.info("http_front_started", pid=os.getpid(), intake=spec.intake is not None)
    server.run(sockets=[sock])
    channel.close()
