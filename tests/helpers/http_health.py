"""Serve ``health_router(provider)`` with uvicorn on 127.0.0.1 (a free port) in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
import uvicorn
from litestar import Litestar

from monitor.http.health import HealthProvider, health_router


class Served:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, timeout=10)

    def json(self, path: str) -> tuple[int, Any]:
        answer = self.get(path)
        return answer.status_code, answer.json()


@contextmanager
def serve_health(provider: HealthProvider) -> Iterator[Served]:
    app = Litestar(route_handlers=[health_router(provider)])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield Served(port)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
