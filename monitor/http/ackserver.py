"""Acknowledge/resolve links: ``GET`` shows a confirmation page, ``POST`` acts.

Links in WeCom/DingTalk/Slack messages are signed and expire (``monitor.alerts.links``). A GET
never changes state, because chat apps and mail scanners fetch links to build previews; the page
it returns has one button that POSTs the same signed parameters. Stdlib ``http.server`` in a
daemon thread, bound to 127.0.0.1 unless configured otherwise (put a reverse proxy in front).
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import structlog

from monitor.alerts.links import LinkError, LinkSigner
from monitor.roles import Refused, authorize, resolve
from monitor.storage.db import Database
from monitor.storage.models import utcnow
from monitor.stories.lifecycle import (
    ActionResult,
    StoryStateError,
    UnknownStory,
    acknowledge_ref,
    resolve_ref,
)
from monitor.stories.oncall_config import staff_directory
from monitor.stories.settings import StoriesSettings

log = structlog.get_logger("yuqing.http")
LABELS = {"ack": "确认 Acknowledge", "resolve": "解决 Resolve"}


class AckServer:
    """Serves ``/ack`` and ``/resolve`` for signed links until ``stop()``."""

    def __init__(
        self,
        db: Database,
        signer: LinkSigner,
        stories: Callable[[], StoriesSettings],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db, self.signer, self.stories, self.clock = db, signer, stories, clock
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.handle(self, post=False)

            def do_POST(self) -> None:
                server.handle(self, post=True)

            def log_message(self, format: str, *args: object) -> None:
                return  # structlog lines instead, without the signature

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="ack-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> AckServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _params(self, request: BaseHTTPRequestHandler, post: bool) -> dict[str, str]:
        query = urlsplit(request.path).query
        if post:
            length = int(request.headers.get("Content-Length") or 0)
            query = request.rfile.read(min(length, 8192)).decode("utf-8", "replace") or query
        return {k: v[0] for k, v in parse_qs(query).items()}

    def handle(self, request: BaseHTTPRequestHandler, *, post: bool) -> None:
        action = urlsplit(request.path).path.strip("/")
        params = self._params(request, post)
        code, person = params.get("code", ""), params.get("p", "")
        try:
            self.signer.verify(
                code, action, params.get("exp", ""), params.get("sig", ""), self.clock(), person=person
            )
            name = self._person_name(person)
            self._authorize(person, action)
        except LinkError as exc:
            self._reply(request, HTTPStatus.FORBIDDEN, f"链接无效 Invalid link: {exc}")
            return
        if not post:
            fields: dict[str, str] = {k: params[k] for k in ("code", "exp", "p", "sig") if k in params}
            form = html.escape(urlencode(fields))
            who = f" ({name})" if name else ""
            self._reply(
                request,
                HTTPStatus.OK,
                f"{code}: {LABELS[action]}{who}?",
                f'<form method="post" action="/{action}?{form}"><button>{LABELS[action]}</button></form>',
            )
            return
        actor = person or f"link:{request.client_address[0]}"  # a person's link records the person
        try:
            result = self._act(action, code, actor)
        except UnknownStory:
            self._reply(request, HTTPStatus.NOT_FOUND, f"未找到 Not found: {code}")
            return
        except StoryStateError as exc:
            self._reply(request, HTTPStatus.CONFLICT, str(exc))
            return
        log.info("link_action", incident=code, action=action, actor=actor, changed=result.changed)
        self._reply(
            request,
            HTTPStatus.OK,
            f"{result.code}: {result.state}" + ("" if result.changed else " (已是 already)"),
        )

    def _person_name(self, person: str) -> str:
        """The on-call name of a link's person; a person no longer in ``people`` is refused."""
        if not person:
            return ""
        oncall = self.stories().oncall
        if oncall is None:
            return person
        known = oncall.people.get(person)
        if known is None:
            raise LinkError(f"unknown person {person!r}")
        return str(known.name)

    def _authorize(self, person: str, action: str) -> None:
        """The same permission table as the CLI (``monitor.roles``): with roles configured, the
        link's person must have a role that may acknowledge (resolve) a story."""
        oncall = self.stories().oncall
        if not person or oncall is None:
            return
        people = staff_directory(oncall.config)
        if not people.roles_configured:
            return
        try:
            authorize(resolve(people, person, ""), "story.ack" if action == "ack" else "story.resolve")
        except Refused as exc:
            raise LinkError(str(exc)) from None

    def _act(self, action: str, code: str, actor: str) -> ActionResult:
        if action == "ack":
            return acknowledge_ref(self.db, code, self.stories(), actor=actor, now=self.clock())
        return resolve_ref(self.db, code, self.stories(), actor=actor, now=self.clock())

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: HTTPStatus, text: str, extra: str = "") -> None:
        body = (
            f'<!doctype html><meta charset="utf-8"><title>yuqing</title><p>{html.escape(text)}</p>{extra}'
        ).encode()
        request.send_response(status)
        request.send_header("Content-Type", "text/html; charset=utf-8")
        request.send_header("Content-Length", str(len(body)))
        request.send_header("Cache-Control", "no-store")
        request.end_headers()
        request.wfile.write(body)
