"""``POST /api/v1/feedback`` and ``GET /api/v1/feedback/{code}`` for website and app back ends.

Errors are 4xx with ``detail`` in Chinese, then English: 401/403 for a missing/unknown/revoked
key, 413 for too large, 415 for a body or file type not accepted, 422 for invalid fields (or an
Idempotency-Key reused with a different body), 429 with ``Retry-After`` past a rate limit.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from anyio import to_thread
from litestar import Request, Response, Router, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException, SerializationException
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from pydantic import ValidationError

from monitor.http.context import HttpContext
from monitor.http.intake_schema import FeedbackOperation
from monitor.intake.files import AttachmentError, CheckedFile, Upload, check
from monitor.intake.keys import Client, KeyRefused, authenticate
from monitor.intake.ratelimit import Limiter, RateLimiter
from monitor.intake.status import PublicStatus, lookup
from monitor.intake.submit import Feedback, IdempotencyConflict, Receipt, prepare, quarantine
from monitor.intake.writer import GroupWriter

log = structlog.get_logger("yuqing.intake")
ANONYMOUS_NOTICE = "匿名提交可能无法获得个人回复 Anonymous feedback may not get a personal reply"
TRUE = ("1", "true", "on", "yes")


class IntakeError(HTTPException):
    """An answer with a status and a Chinese/English ``detail``."""


@dataclass
class ErrorOut:
    status_code: int
    detail: str
    extra: Any = None


@dataclass
class ReceiptOut:
    code: str
    """Ticket code, e.g. Q000123; while the feedback waits in the review queue, its own code (F000045),
    which finds its status (and, once approved, its ticket) the same way."""
    token: str
    """Status token for /api/v1/feedback/{code} and /feedback/status; keep it, it is shown once per request."""
    status: str
    status_label: str
    replayed: bool
    """True when this answers a retry with an Idempotency-Key already used."""
    notice: str | None = None


@dataclass
class StatusOut:
    code: str
    status: str
    status_label: str
    type: str
    submitted_at: str
    updated_at: str
    reply: str | None


def error(status: int, detail: str, *, headers: dict[str, str] | None = None) -> IntakeError:
    return IntakeError(status_code=status, detail=detail, headers=headers)


def errors(*codes: int) -> dict[int, ResponseSpec]:
    return {code: ResponseSpec(data_container=ErrorOut, description="错误 Error (detail: Chinese, then English)") for code in codes}


def pydantic_detail(exc: ValidationError) -> str:
    parts = []
    for item in exc.errors():
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    return "字段无效 / invalid fields: " + "; ".join(parts)


def reused_key() -> IntakeError:
    return error(422, "Idempotency-Key 已用于另一份内容 / this Idempotency-Key was used with a different request")


def status_label(status: str) -> str:
    from monitor.intake.status import PUBLIC

    _, zh, en = PUBLIC.get(status, PUBLIC["processing"])
    return f"{zh} {en}"


def client_host(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


class Limits:
    """Rate limits shared by the API and the pages of one application."""

    def __init__(self) -> None:
        self.submit: Limiter = RateLimiter()
        """Submissions per key, per address and per form address (in front-process mode the
        daemon's asks the child's, ``monitor.http.front.SharedLimiter``)."""
        self.status: Limiter = RateLimiter()

    def check(self, limiter: Limiter, key: str, limit: int) -> None:
        wait = limiter.allow(key, limit)
        if wait:
            raise error(
                429,
                f"请求过于频繁，请 {int(wait) + 1} 秒后再试 / too many requests, retry in {int(wait) + 1} s",
                headers={"Retry-After": str(int(wait) + 1)},
            )


Remote = Callable[[Client, Feedback, list[Upload], str | None, str], Future[Receipt]]
"""Hands a parsed submission of a known client to the daemon (:meth:`Intake.enqueue` there)."""

Body = tuple[dict[str, Any], list[Upload]]
"""The submitted fields and files (:func:`read_feedback`)."""


async def read_feedback(request: Request[Any, Any, Any]) -> Body:
    """The submitted fields and files, from JSON or multipart; 415 for any other body."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json":
        try:
            body = await request.json()
        except SerializationException:
            raise error(400, "JSON 格式错误 / the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise error(422, "请求体须为 JSON 对象 / the body must be a JSON object")
        return json_feedback(body)
    if media == "multipart/form-data":
        form = await request.form()
        fields: dict[str, Any] = {}
        uploads: list[Upload] = []
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                uploads.append(Upload(value.filename or "file", await value.read()))
            elif key == "attachments":  # text where a file belongs (an empty file input sends "")
                if str(value).strip():
                    raise error(422, "attachments: 须为文件 / must be files (multipart file parts)")
            elif key not in ("_csrf_token", "website", "started"):
                if key in fields:
                    raise error(422, f"{key}: 字段重复 / field given twice")
                fields[key] = value
        if "anonymous" in fields:
            fields["anonymous"] = str(fields["anonymous"]).lower() in TRUE
        return fields, uploads
    raise error(415, "只接受 application/json 或 multipart/form-data / send application/json or multipart/form-data")


def json_feedback(body: dict[str, Any]) -> Body:
    raw = body.pop("attachments", [])
    if not isinstance(raw, list):  # false, 0, "" or null are not "no files": the schema says array
        raise error(422, "attachments: 须为数组 / must be an array of {name, data}")
    uploads = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) != {"name", "data"} or not all(isinstance(v, str) for v in item.values()):
            raise error(422, f"attachments.{index}: 须为 {{name, data}} / must be {{name, data}} strings")
        try:
            data = base64.b64decode(item["data"], validate=True)
        except (binascii.Error, ValueError):
            raise error(422, f"attachments.{index}.data: 不是 base64 / not base64") from None
        uploads.append(Upload(item["name"], data))
    return body, uploads


def parse(fields: dict[str, Any]) -> Feedback:
    try:
        feedback = Feedback.model_validate(fields)
    except ValidationError as exc:
        raise error(422, pydantic_detail(exc)) from None
    if feedback.missing_contact():
        raise error(422, "contact: 请留下联系方式，或选择匿名提交 / give a contact, or submit anonymously")
    return feedback


class Intake:
    """The submit and status logic the API and the hosted pages share."""

    def __init__(self, ctx: HttpContext, *, remote: Remote | None = None) -> None:
        """``remote``: in the HTTP front process, where the files' check, the analysis and the write
        happen - the daemon (:mod:`monitor.http.front`); without it, here, through a
        :class:`GroupWriter` of this process."""
        self.ctx, self.limits, self.remote = ctx, Limits(), remote
        self.writer: GroupWriter | None = None
        if remote is None:
            assert ctx.pipeline is not None
            self.writer = GroupWriter(ctx.pipeline, lambda: ctx.intake().source, ctx.secret)

    def checked(self, uploads: list[Upload], client: Client, address: str) -> list[CheckedFile]:
        settings = self.ctx.intake()
        try:
            return check(uploads, settings)
        except AttachmentError as exc:
            if exc.quarantine and self.ctx.pipeline is not None:
                bad = next((u for u in uploads if u.name and exc.name and exc.name in u.name), uploads[0])
                quarantine(
                    self.ctx.pipeline(),
                    settings.source,
                    f"intake: disguised attachment {exc.name!r} from {client.name} ({address})",
                    bad.data,
                    f"{client.ref} {exc.name}",
                )
                log.warning("intake_quarantined", client=client.name, file=exc.name, address=address)
            raise error(exc.status, str(exc)) from None

    def submit(
        self, client: Client, feedback: Feedback, uploads: list[Upload], idempotency_key: str | None, address: str
    ) -> Receipt:
        """Check, prepare and write one submission, waiting for its group (blocking)."""
        queued = self.enqueue(client, feedback, uploads, idempotency_key, address)
        try:
            return self.logged(client, queued if isinstance(queued, Receipt) else queued.result(60.0))
        except IdempotencyConflict:
            raise reused_key() from None

    async def submit_keyed(
        self, api_key: str, body: Body | HTTPException, idempotency_key: str | None, address: str
    ) -> tuple[Feedback, Receipt]:
        """The API's submission: the key's check, its rate limit, the fields and the analysis in ONE
        worker thread, then the wait for the group on the event loop (no thread parked while the
        writer works).

        One hand-over to a thread and back, not two (the key lookup had its own): on the daemon's
        one GIL each hand-over costs turns of every busy thread. The body was read on the loop
        before the key was checked, but its errors (``body`` is then the exception) are answered
        after the key's, in the order a client sees them: 401/403, 429, then 413/415/422."""

        def checked() -> tuple[Client, Feedback, Receipt | Future[Receipt]]:
            try:
                client = authenticate(self.ctx.db, api_key, self.ctx.clock())
            except KeyRefused as exc:
                raise error(exc.status, str(exc)) from None
            self.limits.check(self.limits.submit, client.ref, self.ctx.intake().key_rate_per_minute)
            if isinstance(body, HTTPException):
                raise body
            fields, uploads = body
            feedback = parse(fields)
            return client, feedback, self.enqueue(client, feedback, uploads, idempotency_key, address)

        client, feedback, queued = await to_thread.run_sync(checked)
        try:
            receipt = queued if isinstance(queued, Receipt) else await asyncio.wrap_future(queued)
        except IdempotencyConflict:
            raise reused_key() from None
        return feedback, self.logged(client, receipt)

    def enqueue(
        self, client: Client, feedback: Feedback, uploads: list[Upload], idempotency_key: str | None, address: str
    ) -> Receipt | Future[Receipt]:
        """The files checked and the submission prepared (analysed) and queued for the writer."""
        if self.remote is not None:
            return self.remote(client, feedback, uploads, idempotency_key, address)
        assert self.ctx.pipeline is not None and self.writer is not None
        files = self.checked(uploads, client, address)
        pending = prepare(
            self.ctx.pipeline(),
            self.ctx.intake().source,
            self.ctx.secret,
            self.ctx.state_dir,
            client,
            feedback,
            files,
            idempotency_key=idempotency_key,
            lookup=False,  # the writer looks the keys up once per group
        )
        return pending if isinstance(pending, Receipt) else self.writer.submit(pending)

    @staticmethod
    def logged(client: Client, receipt: Receipt) -> Receipt:
        log.info("intake", client=client.name, ticket=receipt.code, created=receipt.created)
        return receipt

    def status(self, code: str, token: str, contact: str, address: str) -> PublicStatus | None:
        self.limits.check(self.limits.status, f"status:{address}", self.ctx.intake().status_rate_per_minute)
        return lookup(self.ctx.db, self.ctx.secret, code, token=token, contact=contact)


def receipt_out(receipt: Receipt, feedback_anonymous: bool) -> ReceiptOut:
    return ReceiptOut(
        code=receipt.code,
        token=receipt.token,
        status=receipt.status,
        status_label=status_label(receipt.status),
        replayed=not receipt.created,
        notice=ANONYMOUS_NOTICE if feedback_anonymous else None,
    )


def intake_api_router(ctx: HttpContext, intake: Intake | None = None) -> Router:
    service = intake or Intake(ctx)

    @post(
        "/feedback",
        operation_class=FeedbackOperation,
        summary="提交反馈 Submit feedback",
        description="JSON or multipart. Header X-API-Key is required; Idempotency-Key makes retries safe.",
        status_code=201,
        security=[{"apiKey": []}],
        responses={200: ResponseSpec(data_container=ReceiptOut, description="重复请求 A retry: the first answer"),
                   **errors(400, 401, 403, 413, 415, 422, 429)},
    )
    async def submit_feedback(
        request: Request[Any, Any, Any],
        idempotency_key: Annotated[
            str | None, Parameter(header="Idempotency-Key", required=False, min_length=1, max_length=128)
        ] = None,
    ) -> Response[ReceiptOut]:
        address = client_host(request)
        service.limits.check(service.limits.submit, f"addr:{address}", ctx.intake().address_rate_per_minute)
        api_key = request.headers.get("x-api-key", "")[:256]
        body: Body | HTTPException
        try:
            body = await read_feedback(request)
        except HTTPException as exc:  # answered after the key's check (Intake.submit_keyed)
            body = exc
        feedback, receipt = await service.submit_keyed(api_key, body, idempotency_key, address)
        return Response(
            receipt_out(receipt, feedback.anonymous),
            status_code=201 if receipt.created else 200,
            headers={"Cache-Control": "no-store"},
        )

    @get(
        "/feedback/{code:str}",
        summary="查询处理状态 Feedback status",
        description="Give the status token (X-Status-Token) or, for non-anonymous feedback, the contact (X-Contact).",
        responses=errors(400, 404, 429),
    )
    async def feedback_status(
        request: Request[Any, Any, Any],
        code: Annotated[str, Parameter(max_length=16)],
        token: Annotated[str | None, Parameter(header="X-Status-Token", required=False, max_length=128)] = None,
        contact: Annotated[str | None, Parameter(header="X-Contact", required=False, max_length=128)] = None,
    ) -> Response[StatusOut]:
        address = client_host(request)
        found = await to_thread.run_sync(lambda: service.status(code, token or "", contact or "", address))
        if found is None:
            raise error(404, "未找到：编号、令牌或联系方式不匹配 / not found: code, token or contact do not match")
        return Response(
            StatusOut(
                code=found.code,
                status=found.status,
                status_label=f"{found.label_zh} {found.label_en}",
                type=found.type,
                submitted_at=found.submitted_at,
                updated_at=found.updated_at,
                reply=found.reply,
            ),
            headers={"Cache-Control": "no-store"},
        )

    return Router(path="/api/v1", route_handlers=[submit_feedback, feedback_status], opt={"exclude_from_csrf": True})
