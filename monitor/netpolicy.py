"""One network policy for everything that talks to a remote end: connectors, alert senders and the
daemon's source back-off.

* :func:`backoff` - capped exponential back-off with jitter (one formula for the whole tree);
* :func:`parse_retry_after` - ``Retry-After`` as delta-seconds or an HTTP date (RFC 9110 10.2.3);
  :func:`retry_after_from_headers` also reads the rate-limit reset headers of X and Reddit;
* :func:`classify_status` - an HTTP status as what the caller should do: ``ok``, ``retry``
  (408/425/429/5xx: temporary), ``auth`` (401/403, and 404/410 where the URL itself is the
  credential, as with chat webhooks: disable and tell the operator) or ``fatal`` (other 4xx: the
  request is wrong and will stay wrong).

A leaf module (stdlib only): connectors import it without importing anything of the daemon.
"""

from __future__ import annotations

import email.utils
import enum
import math
import random
import time
from collections.abc import Callable, Mapping

RETRY_STATUSES = frozenset({408, 425, 429})
AUTH_STATUSES = frozenset({401, 403})
GONE_STATUSES = frozenset({404, 410})


class Verdict(enum.Enum):
    """What the caller should do about an answer."""

    OK = "ok"
    RETRY = "retry"  # temporary: wait (Retry-After or back-off) and try again
    AUTH = "auth"  # credentials missing, wrong or revoked: disable, tell the operator once
    FATAL = "fatal"  # the request itself is wrong: retrying will not help


def classify_status(status: int, *, url_is_credential: bool = False) -> Verdict:
    """An HTTP status as a :class:`Verdict`. 304 counts as ok (a conditional GET found nothing new).

    ``url_is_credential``: the URL carries the secret (WeCom/DingTalk/Feishu/Slack webhooks, a
    Telegram bot token), so 404/410 mean the hook or bot does not exist (any more): ``auth``.
    """
    if 200 <= status < 300 or status == 304:
        return Verdict.OK
    if status in AUTH_STATUSES or (url_is_credential and status in GONE_STATUSES):
        return Verdict.AUTH
    if status in RETRY_STATUSES or status >= 500:
        return Verdict.RETRY
    return Verdict.FATAL


def backoff(
    attempt: int,
    *,
    base: float,
    cap: float,
    jitter: float = 0.5,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (counting from 0).

    The step doubles from ``base`` up to ``cap``; ``jitter`` of it is random ("equal jitter" at
    0.5: half fixed, half random; 1.0 is "full jitter"), so many clients that failed together do
    not come back together. Never more than ``cap``, never negative.
    """
    if not 0.0 <= jitter <= 1.0:
        raise ValueError("jitter must be between 0 and 1")
    step = min(cap, base * 2.0 ** min(max(0, attempt), 62))
    return max(0.0, step * (1.0 - jitter) + rand() * step * jitter)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds from ``now``: delta-seconds or an HTTP date; ``None`` if absent
    or unreadable (the caller then uses :func:`backoff`). A date in the past means 0."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit() or _is_decimal(text):
        return max(0.0, float(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None  # RFC 9110 dates are GMT; a zone-less date is not one
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _is_decimal(text: str) -> bool:
    head, dot, tail = text.partition(".")
    return bool(dot) and head.isdigit() and tail.isdigit()


def retry_after_from_headers(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait according to response headers, or ``None`` when they say nothing.

    ``Retry-After`` first; then X's ``x-rate-limit-reset`` (epoch seconds) and Reddit's
    ``x-ratelimit-reset`` (seconds until the window resets).
    """
    now = time.time() if now is None else now
    lower = {k.lower(): v for k, v in headers.items()}
    wait = parse_retry_after(lower.get("retry-after"), now=now)
    if wait is not None:
        return wait
    epoch = _number(lower.get("x-rate-limit-reset"))
    if epoch is not None:
        return max(0.0, epoch - now)
    seconds = _number(lower.get("x-ratelimit-reset"))
    return max(0.0, seconds) if seconds is not None else None


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
