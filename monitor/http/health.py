"""``/healthz``, ``/readyz`` and ``/metrics`` as one Litestar router over a :class:`HealthProvider`.

* ``/healthz`` - liveness: the process answers and its scheduler makes progress. 200 or 503.
* ``/readyz`` - readiness: the database answers, its schema is at the newest migration, every
  enabled source had a successful poll within its interval (plus slack). 503 with a JSON body
  naming every failing check otherwise.
* ``/metrics`` - the Prometheus text format of the provider's own registry.

The router knows nothing of the daemon: the daemon builds the provider (``monitor.health``) and
the web application mounts ``health_router(daemon.health_provider())``.
"""

from __future__ import annotations

from typing import Any

from litestar import Response, Router, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitor.http.health_checks import Check, HealthProvider, HealthReport

__all__ = ["Check", "HealthProvider", "HealthReport", "health_router"]


# Litestar appends "; charset=utf-8" to text/* types itself; the client's constant carries it too
_MEDIA_TYPE = CONTENT_TYPE_LATEST.replace("; charset=utf-8", "")


def _answer(report: HealthReport) -> Response[dict[str, Any]]:
    return Response(report.body(), status_code=HTTP_200_OK if report.ok else HTTP_503_SERVICE_UNAVAILABLE)


def health_router(provider: HealthProvider, *, path: str = "/") -> Router:
    """The three endpoints under ``path``; handlers run in a worker thread (they query the database)."""

    @get("/healthz", sync_to_thread=True, cache=False, include_in_schema=False)
    def healthz() -> Response[dict[str, Any]]:
        return _answer(provider.liveness())

    @get("/readyz", sync_to_thread=True, cache=False, include_in_schema=False)
    def readyz() -> Response[dict[str, Any]]:
        return _answer(provider.readiness())

    @get("/metrics", sync_to_thread=True, cache=False, include_in_schema=False)
    def metrics() -> Response[bytes]:
        return Response(generate_latest(provider.registry), media_type=_MEDIA_TYPE)

    return Router(path=path, route_handlers=[healthz, readyz, metrics])
