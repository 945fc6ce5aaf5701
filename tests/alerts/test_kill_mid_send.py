"""The daemon is SIGKILLed while a send is in flight, then restarted.

Two webhook targets on 127.0.0.1: ``fast`` answers 200 at once; ``slow`` holds its third request
until after the kill, so the daemon dies with that send in flight. Targets are sent on lanes of
their own, so ``fast`` gets (and the outbox records) all its alerts while ``slow`` hangs. After the
restart every alert reaches each target; a target never gets an idempotency key twice if it had
answered 200 before the kill. The one request whose 200 the kill cut off is sent again (at-least-once by design,
docs/reliability.md) with the identical body and idempotency key, so the receiver can drop it.
"""

from __future__ import annotations

import json
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.builders import write_config, write_rules
from tests.helpers.daemon import DaemonProcess, scalar, wait_for

ALERTS = 6  # six different urgent stories -> 6 pages per target (near-duplicates would be one story)
STORIES = [
    "紧急：电池起火，充电宝在宿舍冒烟",
    "紧急 外卖骑手在小区门口摔伤了没人管",
    "紧急!! 电梯困人半小时物业不接电话",
    "紧急：收到的奶粉罐子里有异物，孩子已经喝了",
    "紧急 账户被盗刷三千元，客服一直占线",
    "紧急：门店燃气泄漏的味道很重，店员还在营业",
]


@dataclass
class Hit:
    path: str
    key: str
    body: bytes
    answered: bool = False


@dataclass
class Receivers:
    """Records every POST with its Idempotency-Key; ``/slow`` holds request ``hold_at``."""

    hold_at: int
    hits: list[Hit] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self) -> ThreadingHTTPServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hit = Hit(self.path, self.headers.get("Idempotency-Key", ""), body)
                with owner.lock:
                    owner.hits.append(hit)
                    nth = sum(1 for h in owner.hits if h.path == self.path)
                if self.path == "/slow" and nth == owner.hold_at and not owner.release.is_set():
                    owner.holding.set()
                    owner.release.wait(60)  # the daemon is killed meanwhile: this 200 is lost
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                    hit.answered = True
                except OSError:
                    pass

            def log_message(self, format: str, *args: object) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def keys(self, path: str) -> list[str]:
        with self.lock:
            return [h.key for h in self.hits if h.path == path]


@pytest.fixture
def receivers() -> Iterator[tuple[Receivers, str]]:
    r = Receivers(hold_at=3)
    server = r.serve()
    try:
        yield r, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        r.release.set()
        server.shutdown()
        server.server_close()


def config(tmp_path: Path, url: str) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    hook: dict[str, Any] = {"read_timeout_seconds": 90}
    return write_config(
        tmp_path / "yuqing.yaml",
        {
            "instance": "kill-test",
            "state_dir": str(tmp_path / "state"),
            "logging": {"format": "json"},
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "scheduler": {"jitter_seconds": 0, "outbox_interval_seconds": 0.5},
            "sources": [
                {"name": "drop", "kind": "files", "interval_seconds": 0.5, "files": {"path": str(inbox)}}
            ],
            "alerts": {
                "targets": [
                    {"name": "fast", "kind": "webhook", "webhook": {"url": f"{url}/fast", **hook}},
                    {"name": "slow", "kind": "webhook", "webhook": {"url": f"{url}/slow", **hook}},
                ]
            },
        },
    )


def test_kill_mid_send_resends_only_the_unacknowledged_send(
    tmp_path: Path, receivers: tuple[Receivers, str]
) -> None:
    r, url = receivers
    path = config(tmp_path, url)
    records = [{"id": str(i), "text": STORIES[i], "thread": f"t{i}"} for i in range(ALERTS)]
    part = tmp_path / "inbox" / ".a.part"
    part.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in records), encoding="utf-8")
    part.rename(tmp_path / "inbox" / "a.jsonl")
    db = tmp_path / "state" / "yuqing.db"

    first = DaemonProcess(path, tmp_path / "first.log")
    try:
        wait_for(r.holding.is_set, 60, what="the third send to /slow to be in flight")
        wait_for(
            lambda: (
                scalar(db, "select count(*) from alerts where target = 'fast' and status = 'sent'") == ALERTS
            ),
            60,
            what="every alert to /fast sent and recorded while /slow hangs",
        )
        assert not r.release.is_set() and len(r.keys("/slow")) == 3, "/slow is still holding its third"
        first.signal(signal.SIGKILL)
        first.proc.wait(10)
    finally:
        first.kill()
    with r.lock:
        acknowledged = {(h.path, h.key) for h in r.hits if h.answered}
    r.release.set()  # the held request ends; its 200 goes nowhere
    assert scalar(db, "select count(*) from alerts") == 2 * ALERTS, "every row was written before any send"

    second = DaemonProcess(path, tmp_path / "second.log")
    try:
        wait_for(
            lambda: scalar(db, "select count(*) from alerts where status = 'sent'") == 2 * ALERTS,
            60,
            what="every alert sent after the restart",
        )
        code, _ = second.stop()
        assert code == 0
    finally:
        second.kill()

    expected = {f"story:{n}:page:0:0" for n in range(1, ALERTS + 1)}
    for target in ("fast", "slow"):
        keys = r.keys(f"/{target}")
        assert {k.removesuffix(f"@{target}") for k in keys} == expected, target
        counts = Counter(keys)
        for key, count in counts.items():
            if (f"/{target}", key) in acknowledged:
                assert count == 1, f"{key} was acknowledged with 200 before the kill and came again"
    # the one send the kill interrupted came twice, byte for byte, with its idempotency key inside
    repeated = [k for k, n in Counter(r.keys("/slow")).items() if n > 1]
    assert Counter(r.keys("/fast")).most_common(1)[0][1] == 1
    assert len(repeated) == 1, repeated
    bodies = {h.body for h in r.hits if h.key == repeated[0]}
    assert len(bodies) == 1
    payload = json.loads(bodies.pop())
    assert payload["idempotency_key"] == repeated[0] and payload["target"] == "slow"
    assert all(json.loads(h.body)["idempotency_key"] == h.key for h in r.hits)
