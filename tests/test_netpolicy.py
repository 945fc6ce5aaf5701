"""The one network policy: backoff, Retry-After (seconds, HTTP dates, garbage), status classes."""

from __future__ import annotations

import email.utils

import pytest

from monitor.netpolicy import Verdict, backoff, classify_status, parse_retry_after, retry_after_from_headers

NOW = 1_764_000_000.0  # 2025-11-24T16:00:00Z
HTTP_DATE_IN_90S = email.utils.formatdate(NOW + 90, usegmt=True)
HTTP_DATE_PAST = email.utils.formatdate(NOW - 3600, usegmt=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("  7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (HTTP_DATE_IN_90S, 90.0),
        ("Mon, 24 Nov 2025 16:02:00 GMT", 120.0),
        (HTTP_DATE_PAST, 0.0),
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("Mon, 99 Foo 2025 16:02:00 GMT", None),
        ("inf", None),
        ("nan", None),
        ("Mon, 24 Nov 2025 16:02:00", None),
    ],
    ids=[
        "seconds",
        "seconds-padded",
        "zero",
        "decimal",
        "http-date",
        "http-date-literal",
        "http-date-past-is-now",
        "negative",
        "word",
        "empty",
        "absent",
        "broken-date",
        "inf",
        "nan",
        "date-without-zone",
    ],
)
def test_retry_after(value: str | None, expected: float | None) -> None:
    result = parse_retry_after(value, now=NOW)
    assert result == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "30"}, 30.0),
        ({"retry-after": HTTP_DATE_IN_90S}, 90.0),
        ({"Retry-After": "garbage", "x-ratelimit-reset": "12"}, 12.0),
        ({"x-rate-limit-reset": str(int(NOW + 300))}, 300.0),
        ({"x-rate-limit-reset": "nan"}, None),
        ({}, None),
    ],
    ids=["retry-after", "retry-after-date", "garbage-falls-back-to-reddit", "x-epoch", "x-garbage", "none"],
)
def test_retry_after_from_headers(headers: dict[str, str], expected: float | None) -> None:
    result = retry_after_from_headers(headers, now=NOW)
    assert result == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("status", "url_is_credential", "verdict"),
    [
        (200, False, Verdict.OK),
        (204, False, Verdict.OK),
        (304, False, Verdict.OK),
        (400, False, Verdict.FATAL),
        (401, False, Verdict.AUTH),
        (403, False, Verdict.AUTH),
        (404, False, Verdict.FATAL),
        (404, True, Verdict.AUTH),
        (410, True, Verdict.AUTH),
        (408, False, Verdict.RETRY),
        (425, False, Verdict.RETRY),
        (429, False, Verdict.RETRY),
        (500, False, Verdict.RETRY),
        (503, True, Verdict.RETRY),
        (422, True, Verdict.FATAL),
        (302, False, Verdict.FATAL),
    ],
    ids=[
        "200", "204", "304", "400", "401", "403", "404-feed", "404-webhook", "410-webhook",
        "408", "425", "429", "500", "503-webhook", "422-webhook", "302",
    ],
)
def test_classify_status(status: int, url_is_credential: bool, verdict: Verdict) -> None:
    assert classify_status(status, url_is_credential=url_is_credential) is verdict


@pytest.mark.parametrize(
    ("attempt", "rand", "jitter", "expected"),
    [
        (0, 0.0, 0.5, 1.0),
        (0, 1.0, 0.5, 2.0),
        (3, 0.0, 0.5, 8.0),
        (3, 1.0, 0.5, 16.0),
        (10, 1.0, 0.5, 60.0),
        (10, 0.0, 0.5, 30.0),
        (10_000, 1.0, 0.5, 60.0),
        (-3, 1.0, 0.5, 2.0),
        (2, 0.5, 1.0, 4.0),
        (2, 0.9, 0.0, 8.0),
    ],
    ids=[
        "first-low", "first-high", "fourth-low", "fourth-high", "capped-high", "capped-low",
        "huge-attempt-capped", "negative-attempt", "full-jitter", "no-jitter",
    ],
)
def test_backoff(attempt: int, rand: float, jitter: float, expected: float) -> None:
    assert backoff(attempt, base=2.0, cap=60.0, jitter=jitter, rand=lambda: rand) == pytest.approx(expected)


def test_backoff_stays_within_its_cap_and_spreads_clients() -> None:
    delays = [backoff(n, base=1.0, cap=30.0) for n in range(12) for _ in range(40)]
    assert all(0.0 <= d <= 30.0 for d in delays)
    assert len({round(d, 6) for d in delays[-40:]}) > 30, "capped steps are still jittered"


def test_backoff_refuses_a_jitter_outside_0_to_1() -> None:
    with pytest.raises(ValueError, match="jitter"):
        backoff(1, base=1.0, cap=2.0, jitter=1.5)
