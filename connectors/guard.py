"""One guard around every record a connector parses: a poison record never stalls a source.

Each connector turns one record (a JSON line, a mail, a feed entry, a chat message) into a
:class:`~monitor.message.Message` inside :func:`guarded`. Whatever goes wrong there - a
:class:`~monitor.errors.BadInputError` the parser raised on purpose, or anything else
(``OSError`` from ``fromtimestamp(1e20)``, ``RecursionError`` from a value nested 1,000 levels
deep, a ``TypeError`` in a parser bug) - becomes a :class:`~monitor.message.Quarantined` row with
the reason and the raw bytes, and reading goes on with the next record.

Only errors about the *source* pass through: :class:`~monitor.errors.UnavailableError`,
:class:`~monitor.errors.AuthError` and :class:`~monitor.errors.ConfigError` say the source (not
this record) is unusable, so the batch is retried and no input is quarantined. Unexpected
exceptions are logged with their traceback, since they are parser bugs worth fixing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import structlog

from monitor.errors import BadInputError, YuqingError
from monitor.message import Quarantined

log = structlog.get_logger("yuqing.connectors")
T = TypeVar("T")
RAW_KEEP = 1024 * 1024  # bytes of a record kept in its quarantine row


def failure_reason(exc: BaseException) -> str:
    """A one-line reason: the BadInputError's text, else the exception type and its message."""
    if isinstance(exc, BadInputError):
        return str(exc)
    text = str(exc).splitlines()[0][:300] if str(exc) else ""
    return f"parser error {type(exc).__name__}: {text}" if text else f"parser error {type(exc).__name__}"


def is_source_error(exc: BaseException) -> bool:
    """Errors about the source or the configuration, never about one record: not quarantined."""
    return isinstance(exc, YuqingError) and not isinstance(exc, BadInputError)


def guarded(
    parse: Callable[[], T],
    *,
    source: str,
    raw: bytes | Callable[[], bytes],
    raw_ref: str,
    raw_size: int | None = None,
    suffix: str = "",
) -> T | Quarantined:
    """``parse()``, or a quarantine row for the record when it raises (see the module docstring).

    ``raw`` may be a callable so that connectors whose records are not bytes (feed entries, API
    objects) serialise them only when a row is written. ``suffix`` is appended to the reason
    (e.g. `` in file.jsonl``).
    """
    try:
        return parse()
    except Exception as exc:
        if is_source_error(exc):
            raise
        return quarantine(exc, source=source, raw=raw, raw_ref=raw_ref, raw_size=raw_size, suffix=suffix)


def quarantine(
    exc: BaseException,
    *,
    source: str,
    raw: bytes | Callable[[], bytes],
    raw_ref: str,
    raw_size: int | None = None,
    suffix: str = "",
) -> Quarantined:
    """The quarantine row for a record whose parse raised ``exc``; unexpected errors are logged."""
    if not isinstance(exc, BadInputError):
        log.error(
            "record_parse_failed", source=source, raw_ref=raw_ref, error=type(exc).__name__, exc_info=exc
        )
    data = raw() if callable(raw) else raw
    size = raw_size if raw_size is not None else len(data)
    kept = data[:RAW_KEEP]
    return Quarantined(
        source, failure_reason(exc) + suffix, kept, raw_ref=raw_ref, raw_size=size if size != len(kept) else None
    )
