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

from dataclasses import dataclass, field
from typing import Any, Protocol

from litestar import Response, Router, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


@dataclass(frozen=True)
class Check:
    """One named check; ``detail`` says what is wrong (or what was seen) in words."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class HealthReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def body(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "failing",
            "failing": [{"check": c.name, "detail": c.detail} for c in self.checks if not c.ok],
            "checks": [{"check": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }


class HealthProvider(Protocol):
    """What the endpoints ask; the daemon's implementation is ``monitor.health.DaemonHealth``."""

    def liveness(self) -> HealthReport: ...

    def readiness(self) -> HealthReport: ...

    @property
    def registry(self) -> CollectorRegistry: ...


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
