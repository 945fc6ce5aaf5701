"""What the HTTP application needs from the daemon, as callables so a reload is seen at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from monitor.alerts.links import LinkSigner
from monitor.intake.settings import IntakeConfig
from monitor.pipeline import PipelineContext
from monitor.storage.db import Database
from monitor.storage.models import utcnow
from monitor.stories.settings import StoriesSettings


@dataclass(frozen=True)
class HttpContext:
    db: Database
    secret: bytes
    """Key for status tokens, the CSRF cookie and sessions (``<state_dir>/http.key`` by default)."""
    stories: Callable[[], StoriesSettings]
    signer: LinkSigner | None = None
    """Ack/resolve links are served only with a signer (``alerts.ack.enabled``)."""
    pipeline: Callable[[], PipelineContext] | None = None
    """The live pipeline context; intake is served only with one."""
    intake: Callable[[], IntakeConfig] = field(default=lambda: IntakeConfig())
    state_dir: Path = Path("var")
    clock: Callable[[], datetime] = utcnow
    max_body_bytes: int = 30 * 1024 * 1024
