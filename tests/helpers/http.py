"""The daemon's HTTP application on 127.0.0.1 (a free port) for tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from monitor.alerts.links import LinkSigner
from monitor.http.app import build_app
from monitor.http.context import HttpContext
from monitor.http.server import HttpServer
from monitor.storage.db import Database
from monitor.storage.models import utcnow
from monitor.stories.settings import StoriesSettings


def ack_server(
    db: Database,
    signer: LinkSigner,
    stories: Callable[[], StoriesSettings],
    *,
    clock: Callable[[], datetime] = utcnow,
) -> HttpServer:
    """The application with only the ack links, as the daemon builds it with ``alerts.ack`` on."""
    ctx = HttpContext(db=db, secret=b"s" * 32, stories=stories, signer=signer, clock=clock)
    return HttpServer(build_app(ctx)).start()
