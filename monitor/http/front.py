"""The HTTP application served by a front process of its own (``http.front_process``).

Why: in one process, everything shares one GIL - at 200 submissions/s the uvicorn loop and the
request threads stretched each write group of the intake's writer about twice and p99 stayed
near 170 ms (bench/README, intake). Here the daemon binds the socket as before, then spawns a
child (:mod:`monitor.http.front_child`) that serves it with uvicorn. What needs the daemon comes
back over one pipe (:mod:`monitor.http.front_channel`):

* ``submit``: a submission of a checked key, parsed, its files checked and stored, analysed with
  the daemon's rules (:mod:`monitor.http.front_rules`), for the same :class:`GroupWriter` the
  hosted form uses (:mod:`monitor.http.front_intake`); the receipt or error goes back when its
  group is committed;
* ``http``: any other request, answered by the daemon's own application (:class:`AsgiHost`) -
  health, readiness and metrics with the daemon's data, ack links and pages with its writes;
* ``limit`` (the other way): the hosted form's submission budgets, asked of the child's limiter
  so that the API and the form share them (:class:`SharedLimiter`).

The daemon supervises the child: one that exits while the daemon runs is logged and started again
(after a pause that grows while it keeps failing); the listening socket stays open in the daemon
meanwhile, so connections wait in its backlog. On stop the child gets SIGTERM (uvicorn's graceful
shutdown) and is killed if it has not left in time. A killed daemon closes the pipe, and the child
leaves by itself (:func:`monitor.http.front_child.main`).
"""

from __future__ import annotations

import multiprocessing
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import structlog

from monitor.http.asgi_host import AsgiHost
from monitor.http.front_channel import Channel
from monitor.http.front_child import FrontSpec, main
from monitor.http.front_rules import RulesSpec
from monitor.intake.ratelimit import RateLimiter
from monitor.intake.settings import IntakeConfig

log = structlog.get_logger("yuqing.http")

READY_TIMEOUT_SECONDS = 60.0
RESTART_PAUSES = (0.5, 1.0, 2.0, 5.0, 10.0)
STABLE_SECONDS = 30.0
"""A child that ran this long before it exited is restarted after the shortest pause again."""


class SharedLimiter:
    """The daemon's side of the intake's submission budgets in front-process mode.

    The API's submissions are limited in the child (per key and per address), the hosted form's
    in the daemon (its page is forwarded there). So that a form post and an API post from one
    address draw on ONE ``addr:`` budget, as in-process, the daemon's submission limiter asks the
    child's: one round trip over the channel per form post. While no child answers (it is being
    restarted) the daemon's own window stands in."""

    def __init__(self, channel: Callable[[], Channel | None], local: RateLimiter, timeout: float = 2.0) -> None:
        self.channel, self.local, self.timeout = channel, local, timeout

    def allow(self, key: str, limit: int) -> float:
        channel = self.channel()
        if channel is None or channel.closed:
            return self.local.allow(key, limit)
        try:
            return float(channel.call("limit", (key, limit)).result(self.timeout))
        except Exception as exc:  # the child is gone or slow: limit here instead
            log.warning("http_front_limit_local", error=f"{type(exc).__name__}: {exc}")
            return self.local.allow(key, limit)


class FrontServer:
    def __init__(
        self,
        host: AsgiHost,
        sock: socket.socket,
        spec: FrontSpec,
        handlers: dict[str, Callable[[Any], Any]],
        *,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self.asgi, self.sock, self.spec, self.handlers, self._stopping = host, sock, spec, handlers, stopping
        self._pushed = spec.rules.key if spec.rules is not None else None
        self.process: Any = None
        self.channel: Channel | None = None
        self.restarts = 0
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._supervisor = threading.Thread(target=self._supervise, name="http-front", daemon=True)

    @property
    def host(self) -> str:
        return str(self.sock.getsockname()[0])

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self, timeout: float = READY_TIMEOUT_SECONDS) -> FrontServer:
        self.asgi.start()
        self._spawn()
        if not self._ready.wait(timeout):
            log.error("http_front_slow", timeout_s=timeout, note="the front process has not said it is ready")
        self._supervisor.start()
        return self

    def reconfigure(self, intake: IntakeConfig | None) -> None:
        """A reload's intake settings (rate limits, source) for the child; later children get them too."""
        with self._lock:
            self.spec = replace(self.spec, intake=intake if self.spec.intake is not None else None)
            channel = self.channel
        if channel is not None and self.spec.intake is not None:
            channel.notify("intake", intake)

    def push_rules(self, spec: RulesSpec) -> None:
        """The daemon's live rules to the child (and to children started later), once per change."""
        with self._lock:
            if spec.key == self._pushed:
                return
            self._pushed = spec.key
            self.spec = replace(self.spec, rules=spec)
            channel = self.channel
        if channel is not None:
            channel.notify("rules", spec)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        process = self.process
        if process is not None and process.is_alive():
            process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
            process.join(timeout)
            if process.is_alive():
                log.warning("http_front_killed", pid=process.pid, note="did not stop in time")
                process.kill()
                process.join(1.0)
        if self.channel is not None:
            self.channel.close()
        self.asgi.stop()
        self.sock.close()

    def _serve(self, kind: str, payload: Any) -> Any:
        if kind == "http":
            scope, body = payload
            return self.asgi.call(scope, body)
        if kind in self.handlers:
            return self.handlers[kind](payload)
        if kind == "ready":
            self._ready.set()
            return None
        raise ValueError(f"unknown request {kind!r}")

    def _spawn(self) -> None:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe(duplex=True)
        with self._lock:
            spec = self.spec
            process = context.Process(target=main, args=(spec, theirs, self.sock), name="yuqing-http", daemon=True)
            process.start()
            theirs.close()
            self.process = process
            self.channel = Channel(ours, self._serve, name="http-front-channel").start()
        log.info("http_front", pid=process.pid, restarts=self.restarts)

    def _supervise(self) -> None:
        failures = 0
        while not self._stopped.is_set():
            process, started = self.process, time.monotonic()
            process.join()
            if self._stopped.is_set() or self._stopping():
                return
            ran = time.monotonic() - started
            failures = 0 if ran > STABLE_SECONDS else failures + 1
            pause = RESTART_PAUSES[min(failures, len(RESTART_PAUSES) - 1)]
            log.error("http_front_exited", pid=process.pid, exitcode=process.exitcode, restart_in_s=pause)
            if self.channel is not None:
                self.channel.close()
            if self._stopped.wait(pause) or self._stopping():
                return
            self.restarts += 1
            self._ready.clear()
            self._spawn()
