"""The customer's page behind a signed follow-up link: 满意 / 一般 / 不满意, free text, opt-out.

``satisfaction_router(db, signer)`` is a Litestar ``Router`` (mounted into the daemon's web app):

* ``GET /satisfaction?code=<token>&action=feedback&exp=…&sig=…`` — the link from a satisfaction
  follow-up or a survey questionnaire; verified (HMAC, expiry) before anything is shown;
* ``POST /feedback`` — the form (the signed fields ride along as hidden inputs): the answer is
  stored once (``monitor.feedback.answers``), a dissatisfied one reopens the ticket; a survey's
  "退订 unsubscribe" button records the opt-out.

Pages are Chinese first with English, ``lang="zh-CN"``, no scripts, no external resources.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from litestar import MediaType, Response, Router, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery

from monitor.alerts.links import FEEDBACK, LinkError, LinkSigner
from monitor.feedback.answers import Outcome, answer_by_link, asked
from monitor.storage.db import Database
from monitor.storage.models import utcnow
from monitor.tickets.satisfaction import DIGITS, Score

PATH = "/satisfaction"
CHOICES = (("1", "满意", "satisfied"), ("2", "一般", "neutral"), ("3", "不满意", "dissatisfied"))
RESULTS: dict[Outcome, tuple[str, str]] = {
    "recorded": ("感谢您的评价！", "Thank you for your answer!"),
    "already": ("您已评价过，谢谢。", "You have already answered, thank you."),
    "opted-out": ("已为您退订，今后不再发送调查。", "You are unsubscribed and will not be surveyed again."),
    "unknown": ("找不到这次回访。", "This follow-up is not known."),
}
FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def page(title: str, body: str, *, status: int = 200) -> Response[str]:
    text = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:'Noto Sans CJK SC',sans-serif;max-width:36em;margin:2em auto;padding:0 1em}"
        "label{display:block;margin:.4em 0}textarea{width:100%;height:6em}</style></head>"
        f"<body>{body}</body></html>"
    )
    return Response(text, status_code=status, media_type=MediaType.HTML)


def form(code: str, exp: str, sig: str, kind: str, ref: str) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in (("code", code), ("exp", exp), ("sig", sig))
    )
    heading = (
        f"<h1>满意度回访 Satisfaction</h1><p>工单 Ticket {html.escape(ref)}：您对我们的处理满意吗？"
        " Are you satisfied with how we handled it?</p>"
        if kind == "satisfaction"
        else f"<h1>客户调查 Customer survey</h1><p>{html.escape(ref)}：您对我们的服务满意吗？"
        " How satisfied are you with our service?</p>"
    )
    choices = "".join(
        f'<label><input type="radio" name="score" value="{d}" required> {zh} {en}</label>' for d, zh, en in CHOICES
    )
    optout = (
        '<p><button type="submit" name="optout" value="1" formnovalidate>退订 Unsubscribe</button></p>'
        if kind == "survey"
        else ""
    )
    return (
        f'{heading}<form method="post" action="{PATH}">{hidden}{choices}'
        '<label>意见 Comments<textarea name="text" maxlength="4000"></textarea></label>'
        f'<p><button type="submit">提交 Submit</button></p>{optout}</form>'
    )


def satisfaction_router(
    db: Database, signer: LinkSigner, *, clock: Callable[[], datetime] = utcnow, path: str = PATH
) -> Router:
    """The page family of satisfaction follow-ups and survey questionnaires (see module docstring)."""

    def verified(code: str, exp: str, sig: str) -> bool:
        try:
            signer.verify(code, FEEDBACK, exp, sig, clock(), actions=(FEEDBACK,))
        except LinkError:
            return False
        return True

    def refused() -> Response[str]:
        return page("链接无效 Invalid link", "<p>链接无效或已过期。 This link is invalid or has expired.</p>", status=403)

    @get("/", sync_to_thread=True)
    def show(code: FromQuery[str] = "", exp: FromQuery[str] = "", sig: FromQuery[str] = "") -> Response[str]:
        if not verified(code, exp, sig):
            return refused()
        found = asked(db, code)
        if found is None:
            return page("回访 Follow-up", f"<p>{' '.join(RESULTS['unknown'])}</p>", status=404)
        if found.answered and found.kind == "satisfaction":
            return page("回访 Follow-up", f"<p>{' '.join(RESULTS['already'])}</p>")
        return page("回访 Follow-up", form(code, exp, sig, found.kind, found.ref))

    @post("/", sync_to_thread=True, status_code=200)
    def submit(data: FormData) -> Response[str]:
        code, exp, sig = data.get("code", ""), data.get("exp", ""), data.get("sig", "")
        if not verified(code, exp, sig):
            return refused()
        opt_out = data.get("optout") == "1"
        score: Score | None = DIGITS.get(data.get("score", ""))
        if score is None and not opt_out:
            return page("回访 Follow-up", "<p>请选择一项。 Please choose one.</p>", status=400)
        outcome = answer_by_link(db, code, score, data.get("text", "")[:4000], opt_out=opt_out, now=clock())
        zh, en = RESULTS[outcome]
        return page("谢谢 Thank you", f"<p>{zh}</p><p>{en}</p>", status=404 if outcome == "unknown" else 200)

    return Router(path=path, route_handlers=[show, submit])
