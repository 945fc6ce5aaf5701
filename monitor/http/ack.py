"""Acknowledge/resolve links: ``GET`` shows a confirmation page, ``POST`` acts.

Links in WeCom/DingTalk/Slack messages are signed and expire (``monitor.alerts.links``). A GET
never changes state, because chat apps and mail scanners fetch links to build previews; the page
it returns has one button that POSTs the same signed parameters. The signature is the link's
protection, so these routes are not CSRF-checked.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qs, urlencode

import structlog
from anyio import to_thread
from litestar import Request, Response, Router, get, post, status_codes
from litestar.handlers import HTTPRouteHandler

from monitor.alerts.links import LinkError, LinkSigner
from monitor.http.context import HttpContext
from monitor.http.pages import page
from monitor.roles import Refused, authorize, resolve
from monitor.stories.lifecycle import (
    ActionResult,
    StoryStateError,
    UnknownStory,
    acknowledge_ref,
    resolve_ref,
)
from monitor.stories.oncall_config import staff_directory

log = structlog.get_logger("yuqing.http")
LABELS = {"ack": "确认 Acknowledge", "resolve": "解决 Resolve"}
MAX_FORM = 8192


def ack_router(ctx: HttpContext, signer: LinkSigner) -> Router:
    """``/ack`` and ``/resolve`` for the links ``signer`` makes."""

    def person_name(person: str) -> str:
        """The on-call name of a link's person; a person no longer in ``people`` is refused."""
        if not person:
            return ""
        oncall = ctx.stories().oncall
        if oncall is None:
            return person
        known = oncall.people.get(person)
        if known is None:
            raise LinkError(f"unknown person {person!r}")
        return str(known.name)

    def authorize_person(person: str, action: str) -> None:
        """The same permission table as the CLI (``monitor.roles``): with roles configured, the
        link's person must have a role that may acknowledge (resolve) a story."""
        oncall = ctx.stories().oncall
        if not person or oncall is None:
            return
        people = staff_directory(oncall.config)
        if not people.roles_configured:
            return
        try:
            authorize(resolve(people, person, ""), "story.ack" if action == "ack" else "story.resolve")
        except Refused as exc:
            raise LinkError(str(exc)) from None

    def act(action: str, code: str, actor: str) -> ActionResult:
        if action == "ack":
            return acknowledge_ref(ctx.db, code, ctx.stories(), actor=actor, now=ctx.clock())
        return resolve_ref(ctx.db, code, ctx.stories(), actor=actor, now=ctx.clock())

    def handle(action: str, params: dict[str, str], client: str, *, posted: bool) -> Response[str]:
        code, person = params.get("code", ""), params.get("p", "")
        try:
            signer.verify(code, action, params.get("exp", ""), params.get("sig", ""), ctx.clock(), person=person)
            name = person_name(person)
            authorize_person(person, action)
        except LinkError as exc:
            return page(f"链接无效 Invalid link: {exc}", status=status_codes.HTTP_403_FORBIDDEN)
        if not posted:
            fields: dict[str, str] = {k: params[k] for k in ("code", "exp", "p", "sig") if k in params}
            form = html.escape(urlencode(fields))
            who = f" ({name})" if name else ""
            return page(
                f"{code}: {LABELS[action]}{who}?",
                f'<form method="post" action="/{action}?{form}"><button>{LABELS[action]}</button></form>',
            )
        actor = person or f"link:{client}"  # a person's link records the person
        try:
            result = act(action, code, actor)
        except UnknownStory:
            return page(f"未找到 Not found: {code}", status=status_codes.HTTP_404_NOT_FOUND)
        except StoryStateError as exc:
            return page(str(exc), status=status_codes.HTTP_409_CONFLICT)
        log.info("link_action", incident=code, action=action, actor=actor, changed=result.changed)
        return page(f"{result.code}: {result.state}" + ("" if result.changed else " (已是 already)"))

    def params_of(request: Request[Any, Any, Any], body: bytes) -> dict[str, str]:
        query = body[:MAX_FORM].decode("utf-8", "replace") or request.scope["query_string"].decode("latin-1")
        return {k: v[0] for k, v in parse_qs(query).items()}

    def client(request: Request[Any, Any, Any]) -> str:
        return request.client.host if request.client else "unknown"

    def routes(action: str) -> list[HTTPRouteHandler]:
        @get(f"/{action}", sync_to_thread=True, include_in_schema=False, name=f"{action}-confirm")
        def confirm(request: Request[Any, Any, Any]) -> Response[str]:
            return handle(action, params_of(request, b""), client(request), posted=False)

        @post(f"/{action}", status_code=200, include_in_schema=False, name=f"{action}-act")
        async def perform(request: Request[Any, Any, Any]) -> Response[str]:
            body = await request.body()
            params = params_of(request, body)
            return await to_thread.run_sync(lambda: handle(action, params, client(request), posted=True))

        return [confirm, perform]

    return Router(path="/", route_handlers=[*routes("ack"), *routes("resolve")], opt={"exclude_from_csrf": True})
