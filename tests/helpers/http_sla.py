"""Serve Litestar route handlers (a ``Router``) with uvicorn on 127.0.0.1, an OS-chosen port,
in a thread; plus a small form client (urllib) that follows no redirects."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from litestar import Litestar


@contextmanager
def serve(*handlers: Any) -> Iterator[str]:
    """The base URL of ``Litestar(route_handlers=handlers)`` served until the block ends."""
    app = Litestar(route_handlers=list(handlers))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def fetch(url: str, form: dict[str, str] | None = None) -> tuple[int, str]:
    """(status, body) of a GET, or of a POST of ``form`` (URL-encoded)."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if form is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def link_fields(url: str) -> dict[str, str]:
    """The signed query fields of a link (code, action, exp, sig)."""
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}
