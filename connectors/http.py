"""Network policy shared by the HTTP-based connectors (RSS, Reddit, X).

One place decides how long to wait for a remote end, how often to retry, how long to back off and
how an HTTP status is classified (apprise keeps this in its plugin base class; Singer SDK classifies
errors by what the caller should do). Connectors call :func:`error_for_status` and
:meth:`RetryPolicy.run`; they never sleep or retry on their own.

Classification:

* 401/403 -> :class:`~monitor.errors.AuthError` (disable the source, tell the operator once);
* 408/425/429/5xx and connection failures -> :class:`~monitor.errors.UnavailableError` with a
  ``retry_after`` taken from ``Retry-After`` / ``x-rate-limit-reset`` / ``x-ratelimit-reset``, or a
  jittered backoff when the server gives none;
* other 4xx -> :class:`~monitor.errors.UnavailableError` with a long ``retry_after``: the URL or
  query is probably wrong, which the operator sees in the source's error log; retrying hourly is
  harmless and recovers by itself when the remote end is fixed.

Short waits (up to ``max_inline_wait`` seconds) are slept in-process, interruptibly; longer ones are
raised so the scheduler can run other sources meanwhile.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
from pydantic import Field

from connectors.base import ConnectorConfig
from monitor import netpolicy
from monitor.errors import AuthError, UnavailableError, YuqingError
from monitor.netpolicy import Verdict

T = TypeVar("T")

#: retry_after for client errors that will not go away by themselves (404, 410, 400 ...).
CLIENT_ERROR_RETRY_AFTER = 3600.0


class HttpSettings(ConnectorConfig):
    """Network settings every HTTP-based connector accepts (all optional)."""

    connect_timeout: float = Field(default=10.0, gt=0, description="seconds to establish a connection")
    timeout: float = Field(default=30.0, gt=0, description="seconds to wait for response data")
    max_retries: int = Field(default=2, ge=0, le=10, description="in-process retries of transient errors")
    backoff_base: float = Field(default=2.0, ge=0, description="first backoff step in seconds")
    backoff_max: float = Field(default=300.0, ge=0, description="upper bound of one backoff step")
    max_inline_wait: float = Field(
        default=30.0, ge=0, description="waits up to this long are slept in-process; longer are raised"
    )
    user_agent: str = Field(default="yuqing/0.1 (+feedback monitor)", min_length=7)


class Interrupted(YuqingError):
    """The ``stop`` event was set while waiting; the connector returns early."""


def backoff_delay(
    attempt: int, *, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Equal-jitter exponential backoff (:func:`monitor.netpolicy.backoff`; attempt counts from 0)."""
    return netpolicy.backoff(attempt, base=base, cap=cap, rand=rand)


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait according to the response headers (:func:`monitor.netpolicy.retry_after_from_headers`)."""
    return netpolicy.retry_after_from_headers(headers, now=now)


def error_for_status(
    status: int,
    headers: Mapping[str, str],
    *,
    what: str,
    settings: HttpSettings,
    attempt: int = 0,
    now: float | None = None,
) -> YuqingError | None:
    """The error an HTTP status means for the caller, or ``None`` for success (2xx/304)."""
    verdict = netpolicy.classify_status(status)
    if verdict is Verdict.OK:
        return None
    if verdict is Verdict.AUTH:
        return AuthError(f"{what}: HTTP {status} - credentials missing, wrong or revoked")
    if verdict is Verdict.RETRY:
        wait = parse_retry_after(headers, now=now)
        if wait is None:
            wait = backoff_delay(attempt, base=settings.backoff_base, cap=settings.backoff_max)
        label = "rate limited" if status == 429 else "temporarily unavailable"
        return UnavailableError(f"{what}: HTTP {status} {label}", retry_after=wait)
    return UnavailableError(f"{what}: HTTP {status}", retry_after=CLIENT_ERROR_RETRY_AFTER)


def unavailable_from_exception(exc: BaseException, *, what: str, settings: HttpSettings) -> UnavailableError:
    """A connection-level failure (timeout, refused, reset, DNS) as a retryable error."""
    wait = backoff_delay(0, base=settings.backoff_base, cap=settings.backoff_max)
    return UnavailableError(f"{what}: {type(exc).__name__}: {exc}", retry_after=wait)


class RetryPolicy:
    """Runs a call, retrying :class:`UnavailableError` while the wait is short enough.

    Waits use ``stop.wait`` so a shutdown interrupts them (raising :class:`Interrupted`).
    """

    def __init__(
        self,
        settings: HttpSettings,
        *,
        stop: threading.Event | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.stop = stop
        self._sleep = sleep

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds`` unless ``stop`` is set first."""
        if self.stop is not None:
            if self.stop.wait(max(0.0, seconds)):
                raise Interrupted("stop requested")
        elif seconds > 0:
            self._sleep(seconds)

    def check_stop(self) -> None:
        if self.stop is not None and self.stop.is_set():
            raise Interrupted("stop requested")

    def run(self, call: Callable[[int], T]) -> T:
        """``call(attempt)``; on UnavailableError sleep and retry up to ``max_retries`` times."""
        attempt = 0
        while True:
            self.check_stop()
            try:
                return call(attempt)
            except UnavailableError as exc:
                wait = exc.retry_after if exc.retry_after is not None else 0.0
                if attempt >= self.settings.max_retries or wait > self.settings.max_inline_wait:
                    raise
                self.wait(wait)
                attempt += 1


class TimeoutSession(requests.Session):
    """A ``requests.Session`` that applies a default ``(connect, read)`` timeout to every request.

    tweepy issues requests without a timeout; mounting the policy here covers it too.
    """

    def __init__(self, timeout: tuple[float, float]) -> None:
        super().__init__()
        self.default_timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, *args, **kwargs)


def make_session(settings: HttpSettings) -> requests.Session:
    """A session with the configured timeouts and user agent."""
    session = TimeoutSession((settings.connect_timeout, settings.timeout))
    session.headers["User-Agent"] = settings.user_agent
    return session
