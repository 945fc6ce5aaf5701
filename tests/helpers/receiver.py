"""A local HTTP receiver standing in for WeCom/DingTalk/Feishu/Slack/Telegram/webhooks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Records every POST; answers from a script of (status, body) then 200 ``{"errcode":0}``."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: list[tuple[int, str]] = []
        self.headers: dict[str, str] = {}  # sent with every answer (e.g. Retry-After)
        self.hang: threading.Event | None = None
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.requests.append(Received(self.path, dict(self.headers), body))
                    status, text = (
                        receiver.script.pop(0)
                        if receiver.script
                        else (200, '{"errcode":0,"ok":true,"code":0}')
                    )
                    extra = dict(receiver.headers)
                if receiver.hang is not None:
                    receiver.hang.wait(30)
                data = text.encode()
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def bodies(self, path_prefix: str = "") -> list[Any]:
        return [r.json for r in self.requests if r.path.startswith(path_prefix)]


@contextmanager
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    try:
        yield r
    finally:
        if r.hang is not None:
            r.hang.set()
        r.server.shutdown()
        r.server.server_close()
