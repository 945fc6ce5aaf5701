"""Runs the HTTP application with uvicorn in a daemon thread of the daemon (or of a test).

The socket is bound before the thread starts, so port 0 works and :attr:`HttpServer.port` is the
bound one. Forwarded headers (``X-Forwarded-For``/``-Proto``) are believed only from the
configured proxies; by default from none, and the default address is 127.0.0.1.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence
from typing import Any

import structlog
import uvicorn
from litestar import Litestar

log = structlog.get_logger("yuqing.http")


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound and listening before any server runs (port 0 works; the front process inherits it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=512)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: Any, trusted_proxies: Sequence[str]) -> uvicorn.Config:
    """The daemon's uvicorn settings, the same in-process and in the front process."""
    return uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=list(trusted_proxies) or None,
        timeout_graceful_shutdown=3,
    )


class HttpServer:
    def __init__(
        self,
        app: Litestar,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        trusted_proxies: Sequence[str] = (),
    ) -> None:
        self.sock = listening_socket(host, port)
        self.server = uvicorn.Server(uvicorn_config(app, trusted_proxies))
        self.thread = threading.Thread(target=self._run, name="http", daemon=True)

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except Exception as exc:  # the daemon keeps polling; the operator sees why the port is dead
            log.error("http_failed", error=f"{type(exc).__name__}: {exc}", exc_info=exc)

    @property
    def host(self) -> str:
        return str(self.sock.getsockname()[0])

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def start(self, timeout: float = 10.0) -> HttpServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def reconfigure(self, intake: Any) -> None:
        """Nothing to do in-process: the application reads the live configuration."""

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()
