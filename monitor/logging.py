"""structlog set-up: JSON lines when stdout is not a terminal (systemd, files), colours on a TTY."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

_SECRET_KEYS = ("password", "token", "secret", "api_key", "authorization")


def _drop_secrets(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Last line of defence: never log a value under a key that names a secret."""
    for key in list(event):
        if any(word in key.lower() for word in _SECRET_KEYS):
            event[key] = "**********"
    return event


def configure_logging(
    level: str = "info", fmt: Literal["auto", "json", "console"] = "auto", *, stream: Any = None
) -> None:
    out = stream or sys.stdout
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    numeric = getattr(logging, level.upper(), logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_secrets,
    ]
    # Lines of third-party libraries (imapclient's bare "Connection closed", urllib3, alembic)
    # become events of the same shape as ours, with the library's logger name.
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, _library_event],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    logging.basicConfig(level=numeric, handlers=[handler], force=True)
    for noisy in ("apscheduler", "alembic", "jieba", "imapclient"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
    # "skipped: maximum number of running instances reached" is the designed behaviour of
    # max_instances=1 when a poll or the outbox is woken while it runs; not worth a warning.
    logging.getLogger("apscheduler.scheduler").setLevel(max(numeric, logging.ERROR))
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )


def _library_event(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A library's free-text line as ``{"event": "library.log", "message": ...}``: one event name
    to filter on, the text kept as a field."""
    event["message"] = str(event.get("event", ""))
    event["event"] = "library.log"
    return event
