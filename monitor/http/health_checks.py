"""What a health check reports, and what the health endpoints ask (``monitor.http.health``).

Apart from the router so that the daemon's health provider (``monitor.health``) does not load
Litestar: a daemon that serves no HTTP never imports it (~8 MB resident; issue 16, memory).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import CollectorRegistry


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
