"""The daemon's one HTTP application.

Litestar was chosen because it brings what the intake needs without hand-written code: an OpenAPI
document generated from the handlers (``/api/v1/openapi.json``), multipart uploads with size
limits, CSRF protection for the hosted form, and sessions for the staff console to come. It runs
on uvicorn in a thread of the daemon (:mod:`monitor.http.server`).

Routes: ``/ack`` and ``/resolve`` (signed links, when ``alerts.ack`` is enabled), the intake API
and pages (when ``intake`` is enabled), and whatever routers the caller passes in ``extra``
(health, metrics, surveys ...). ``extra`` routers are mounted as given and are not CSRF-checked:
they are GET-only or APIs with their own credentials; a router that serves a cookie-authenticated
form must not be passed here without its own protection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import structlog
from litestar import Litestar, Router
from litestar.config.csrf import CSRFConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ControllerRouterHandler

from monitor import __version__
from monitor.http.ack import ack_router
from monitor.http.context import HttpContext

if TYPE_CHECKING:
    from monitor.http.intake_api import Intake

log = structlog.get_logger("yuqing.http")
OPENAPI_PATH = "/api/v1"


def _log_exception(exc: Exception, scope: Any) -> None:
    if getattr(exc, "status_code", 500) >= 500:
        log.error("http_error", path=scope.get("path"), error=f"{type(exc).__name__}: {exc}", exc_info=exc)


def build_app(
    ctx: HttpContext, extra: Sequence[ControllerRouterHandler] = (), *, intake: Intake | None = None
) -> Litestar:
    """``intake``: the submit logic to serve (the daemon passes its own, which the HTTP front
    process's submissions also go through); one of its own otherwise."""
    handlers: list[ControllerRouterHandler] = []
    if ctx.signer is not None:
        handlers.append(ack_router(ctx, ctx.signer))
    if ctx.pipeline is not None:
        from monitor.http.intake_api import Intake, intake_api_router
        from monitor.http.intake_pages import intake_pages_router

        intake = intake or Intake(ctx)
        handlers.append(intake_api_router(ctx, intake))
        if ctx.intake().form:
            handlers.append(intake_pages_router(ctx, intake))
    if extra:
        handlers.append(Router(path="/", route_handlers=list(extra), opt={"exclude_from_csrf": True}))
    return Litestar(
        route_handlers=handlers,
        openapi_config=OpenAPIConfig(
            title="yuqing feedback intake",
            version=__version__,
            path=OPENAPI_PATH,
            description="意见反馈接入 Feedback intake for website and app back ends (docs/intake.zh.md)",
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(
                        type="apiKey", name="X-API-Key", security_scheme_in="header",
                        description="每个网站或 App 后端一个密钥 One key per back end (yuqing intake keys add)",
                    )
                }
            ),
        ),
        csrf_config=CSRFConfig(
            secret=ctx.secret.hex(),
            cookie_name="yuqing_csrf",
            cookie_httponly=True,
            cookie_samesite="strict",
            exclude=[f"^{OPENAPI_PATH}/"],
        ),
        request_max_body_size=ctx.max_body_bytes,
        after_exception=[_log_exception],
        logging_config=None,
        debug=False,
    )

