"""The hosted feedback form (``/feedback``) and status page (``/feedback/status``), Chinese first.

Spam controls need no third-party service: a honeypot field people never see, a minimum time
between serving the form and getting it back (the serving time is signed, so it cannot be
forged), and a per-address rate limit; CSRF is Litestar's double-submit cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from typing import Any

import structlog
from anyio import to_thread
from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response, Router, get, post
from litestar.utils.scope.state import ScopeState

from monitor.http.context import HttpContext
from monitor.http.intake_api import Intake, IntakeError, client_host, parse, read_feedback
from monitor.intake.keys import Client

log = structlog.get_logger("yuqing.intake")
FORM_CLIENT = Client("form", "hosted form", "web")
_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "tpl"), autoescape=select_autoescape(["html", "j2"])
)

TEXTS = {
    "zh": {
        "title": "意见反馈", "status_title": "查询处理进度", "type": "反馈类型", "complaint": "投诉",
        "suggestion": "建议", "inquiry": "咨询", "content": "反馈内容", "name": "姓名（选填）",
        "contact": "联系方式（电话或邮箱）", "anonymous": "匿名提交",
        "anonymous_notice": "匿名提交不会保存您的姓名和联系方式，我们可能无法给您个人回复。",
        "attachments": "附件（图片、视频、语音）", "submit": "提交", "check_status": "查询处理进度",
        "thanks": "感谢您的反馈，我们已收到。", "code": "反馈编号", "token": "查询令牌",
        "keep_token": "请保存编号和令牌，用于查询处理进度。", "pending": "审核后生成",
        "or_contact": "或：提交时填写的联系方式", "lookup": "查询", "status": "处理状态",
        "submitted": "提交时间", "reply": "回复",
        "limits": "每个文件不超过 {file} MB，最多 {count} 个，按文件内容识别类型。",
        "not_found": "未找到：请核对编号和令牌（或联系方式）。", "too_fast": "提交过快，请稍后再试。",
    },
    "en": {
        "title": "Feedback", "status_title": "Check progress", "type": "Type", "complaint": "Complaint",
        "suggestion": "Suggestion", "inquiry": "Inquiry", "content": "Your feedback", "name": "Name (optional)",
        "contact": "Contact (phone or e-mail)", "anonymous": "Submit anonymously",
        "anonymous_notice": "Anonymous feedback keeps no name or contact; we may not be able to reply to you personally.",
        "attachments": "Attachments (pictures, video, voice)", "submit": "Submit", "check_status": "Check progress",
        "thanks": "Thank you, we have received your feedback.", "code": "Reference", "token": "Status token",
        "keep_token": "Keep the reference and token to check the progress.", "pending": "after review",
        "or_contact": "or: the contact you gave", "lookup": "Look up", "status": "Status",
        "submitted": "Submitted", "reply": "Reply",
        "limits": "Up to {count} files of at most {file} MB each; the type is read from the content.",
        "not_found": "Not found: check the reference and the token (or contact).", "too_fast": "Sent too fast; please try again.",
    },
}


def _started(secret: bytes, now: float) -> str:
    stamp = str(int(now))
    mac = hmac.new(secret, b"form\n" + stamp.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{stamp}.{mac}"


def _age(secret: bytes, value: str, now: float) -> float | None:
    """Seconds since the form was served, or None for a missing or forged stamp."""
    stamp, _, mac = value.partition(".")
    if not stamp.isdigit() or not hmac.compare_digest(_started(secret, float(stamp)), value):
        return None
    return now - float(stamp) if mac else None


def intake_pages_router(ctx: HttpContext, intake: Intake) -> Router:
    def lang(request: Request[Any, Any, Any]) -> str:
        return "en" if request.query_params.get("lang") == "en" else "zh"

    def render(request: Request[Any, Any, Any], page: str, *, status: int = 200, **values: Any) -> Response[str]:
        language = lang(request)
        texts = dict(TEXTS[language])
        settings = ctx.intake()
        texts["limits"] = texts["limits"].format(file=f"{settings.max_file_mb:g}", count=settings.max_files)
        heading = texts["status_title"] if page.startswith("status") else texts["title"]
        body = _ENV.get_template("feedback.html.j2").render(
            page=page,
            t=texts,
            en=language == "en",
            heading=heading,
            csrf=ScopeState.from_scope(request.scope).csrf_token or "",
            started=_started(ctx.secret, time.time()),
            values=values.pop("values", {}),
            **values,
        )
        return Response(
            body,
            status_code=status,
            media_type="text/html; charset=utf-8",
            headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                     "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'"},
        )

    @get("/feedback", include_in_schema=False)
    async def form(request: Request[Any, Any, Any]) -> Response[str]:
        return render(request, "form")

    @post("/feedback", include_in_schema=False, status_code=200)
    async def send(request: Request[Any, Any, Any]) -> Response[str]:
        settings = ctx.intake()
        address = client_host(request)
        texts = TEXTS[lang(request)]
        form_data = await request.form()
        kept = {k: str(form_data.get(k) or "") for k in ("content", "name", "contact")}
        try:
            intake.limits.check(intake.limits.submit, f"form:{address}", settings.form_rate_per_minute)
            intake.limits.check(intake.limits.submit, f"addr:{address}", settings.address_rate_per_minute)
            age = _age(ctx.secret, str(form_data.get("started") or ""), time.time())
            if form_data.get("website") or age is None or age < settings.form_min_seconds:
                log.info("intake_form_spam", address=address, honeypot=bool(form_data.get("website")), age=age)
                return render(request, "form", status=400, error=texts["too_fast"], values=kept)
            fields, uploads = await read_feedback(request)
            feedback = parse(fields)
            receipt = await to_thread.run_sync(lambda: intake.submit(FORM_CLIENT, feedback, uploads, None, address))
        except IntakeError as exc:
            return render(request, "form", status=exc.status_code, error=exc.detail, values=kept)
        return render(request, "receipt", code=receipt.code, token=receipt.token, anonymous=feedback.anonymous)

    @get("/feedback/status", include_in_schema=False)
    async def status_form(request: Request[Any, Any, Any]) -> Response[str]:
        return render(request, "status_form")

    @post("/feedback/status", include_in_schema=False, status_code=200)
    async def status(request: Request[Any, Any, Any]) -> Response[str]:
        form_data = await request.form()
        code, token, contact = (str(form_data.get(k) or "").strip() for k in ("code", "token", "contact"))
        address = client_host(request)
        try:
            found = await to_thread.run_sync(lambda: intake.status(code[:16], token[:128], contact[:128], address))
        except IntakeError as exc:
            return render(request, "status_form", status=exc.status_code, error=exc.detail, values={"code": code})
        if found is None:
            return render(request, "status_form", status=404, error=TEXTS[lang(request)]["not_found"],
                          values={"code": code})
        return render(request, "status", found=found)

    return Router(path="/", route_handlers=[form, send, status_form, status])
