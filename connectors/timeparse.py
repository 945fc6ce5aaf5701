"""Every time format the sources write, read in one place; a time never loses a message.

:func:`parse_time` understands ISO 8601 (with or without zone, ``T`` or space), RFC 2822 (mail,
RSS), the classic Twitter format (``Mon Mar 04 17:19:00 +0000 2024``), Weibo's display times
(``刚刚``, ``3分钟前``, ``今天 17:19``, ``昨天 17:19``, ``03-04 17:19``, ``2024-03-04 17:19``),
``2024年3月4日 17:19``, ``2024/3/4 17:19``, English relative times (``2 hours ago``,
``yesterday``) and Unix epochs in seconds, milliseconds or microseconds. Relative times count
back from the fetch time; naive times are in the source's zone. A per-source ``time_format``
(``epoch``, ``epoch_ms``, ``iso`` or a :func:`~datetime.datetime.strptime` pattern) is tried first.

A time outside 2000-01-01 .. fetch time + 2 days is as useless as an unreadable one (a
``created_at`` of ``1e20`` or a clock in the wrong century): :func:`resolve_time` then gives the
fetch time and the ``time-unparsed`` flag, and the message is stored, never quarantined.

Why not ``dateutil.parser``: it guesses - ``parse("3")`` is the 3rd of this month, ``03-04`` is
read month-first without asking, Chinese dates and relative times are not understood, and fuzzy
mode turns any text with a digit into a date. Every format here is a fixed pattern that the
standard library (``fromisoformat``, ``email.utils``, ``strptime``) and a few regular
expressions read exactly, so a wrong guess never becomes a wrong time.
"""

from __future__ import annotations

import email.utils
import math
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from connectors.hygiene import TIME_UNPARSED

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=2)

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_CLOCK = r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,6})\d*)?)?"
_ZONE = r"\s*(?P<z>Z|UTC|GMT|[+-]\d{2}:?\d{2})?"
# 2024-03-04 17:19, 2024/3/4 17:19, 2024.3.4, 2024年3月4日 17:19, 2024-03-04T17:19:00+08:00
_FULL_DATE = re.compile(
    r"(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:(?:\s*[T ]\s*|\s*)" + _CLOCK + r")?" + _ZONE
)
# 03-04 17:19, 3/4 17:19, 3月4日 17:19 (Weibo: this year)
_MONTH_DAY = re.compile(r"(?P<m>\d{1,2})\s*[-/月]\s*(?P<d>\d{1,2})\s*日?(?:\s*" + _CLOCK + r")?")
_TWITTER = re.compile(
    r"(?:[A-Za-z]{3}\s+)?(?P<mon>[A-Za-z]{3})\s+(?P<d>\d{1,2})\s+" + _CLOCK + r"\s+(?P<z>[+-]\d{4})\s+(?P<y>\d{4})"
)
_AGO_ZH = re.compile(r"(?P<n>\d+|半)\s*(?P<u>秒|秒钟|秒鐘|分钟|分鐘|分|小时|小時|个小时|個小時|天|日|周|週|星期|个月|個月|月|年)\s*(?:以)?前")
_AGO_EN = re.compile(
    r"(?P<n>\d+|an?|one)\s*(?P<u>s|sec|secs|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?"
    r"|mo|months?|y|yrs?|years?)\s+ago",
    re.IGNORECASE,
)
_DAY_WORD = re.compile(
    r"(?P<w>今天|今日|昨天|昨日|前天|today|yesterday)(?:\s*(?:at\s*)?" + _CLOCK + r")?", re.IGNORECASE
)
_BARE_CLOCK = re.compile(_CLOCK)
_NOW_WORDS = {"刚刚", "剛剛", "刚才", "剛才", "just now", "now", "moments ago", "a moment ago"}
_UNIT_SECONDS = {
    "秒": 1, "秒钟": 1, "秒鐘": 1, "分钟": 60, "分鐘": 60, "分": 60, "小时": 3600, "小時": 3600,
    "个小时": 3600, "個小時": 3600, "天": 86400, "日": 86400, "周": 604800, "週": 604800,
    "星期": 604800, "个月": 2592000, "個月": 2592000, "月": 2592000, "年": 31536000,
}
_EN_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DAYS_BACK = {"今天": 0, "今日": 0, "today": 0, "昨天": 1, "昨日": 1, "yesterday": 1, "前天": 2}


def in_bounds(value: datetime, now: datetime) -> bool:
    """Whether ``value`` is a plausible message time: 2000-01-01 .. ``now`` + 2 days."""
    return EARLIEST <= value <= now + FUTURE_SLACK


def resolve_time(
    value: Any, *, now: datetime, zone: tzinfo = UTC, time_format: str | None = None
) -> tuple[datetime, tuple[str, ...]]:
    """The time ``value`` means and the flags to put on the message.

    Absent (``None``/``""``): ``now`` without a flag. Unreadable or out of bounds: ``now`` with
    ``time-unparsed``.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return now, ()
    parsed = parse_time(value, now=now, zone=zone, time_format=time_format)
    return (parsed, ()) if parsed is not None else (now, (TIME_UNPARSED,))


def parse_time(
    value: Any, *, now: datetime, zone: tzinfo = UTC, time_format: str | None = None
) -> datetime | None:
    """The aware time ``value`` means, or None when it is unreadable or out of bounds."""
    try:
        parsed = _parse(value, now, zone, time_format)
    except (ValueError, OverflowError, OSError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed if in_bounds(parsed, now) else None


def _parse(value: Any, now: datetime, zone: tzinfo, time_format: str | None) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return from_epoch(value)
    if not isinstance(value, str):
        return None
    text = " ".join(value.replace("\ufeff", "").split())
    if not text:
        return None
    if time_format:
        configured = _configured(text, time_format)
        if configured is not None:
            return configured
    for reader in (_epoch_text, _iso, _full_date, _twitter, _rfc2822):
        found = reader(text)
        if found is not None:
            return found
    return _relative(text, now.astimezone(zone))


def from_epoch(number: float) -> datetime | None:
    """Seconds, milliseconds or microseconds since 1970 (told apart by magnitude)."""
    if math.isnan(number) or math.isinf(number):
        return None
    magnitude = abs(number)
    if magnitude >= 1e14:
        number = number / 1_000_000
    elif magnitude >= 1e11:
        number = number / 1000
    return datetime.fromtimestamp(number, tz=UTC)


def _configured(text: str, time_format: str) -> datetime | None:
    try:
        if time_format in ("epoch", "epoch_ms"):
            seconds = float(text) / (1000 if time_format == "epoch_ms" else 1)
            return datetime.fromtimestamp(seconds, tz=UTC)
        if time_format == "iso":
            return _iso(text)
        return datetime.strptime(text, time_format)
    except (ValueError, OverflowError, OSError):
        return None


def _epoch_text(text: str) -> datetime | None:
    if re.fullmatch(r"-?\d{9,17}(?:\.\d+)?", text):
        return from_epoch(float(text))
    return None


def _iso(text: str) -> datetime | None:
    if not re.match(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return datetime.fromisoformat(re.sub(r"(?<=\d)\s*(?:Z|UTC|GMT)$", "+00:00", text))
    except ValueError:
        return None


def _zone(spec: str | None) -> tzinfo | None:
    if not spec:
        return None
    if spec in ("Z", "UTC", "GMT"):
        return UTC
    digits = spec[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4]))
    return timezone(-offset if spec[0] == "-" else offset)


def _clock(match: re.Match[str]) -> tuple[int, int, int, int]:
    if match["H"] is None:
        return 0, 0, 0, 0
    micro = int((match["f"] or "0").ljust(6, "0")[:6])
    return int(match["H"]), int(match["M"]), int(match["S"] or 0), micro


def _full_date(text: str) -> datetime | None:
    match = _FULL_DATE.fullmatch(text)
    if match is None:
        return None
    return datetime(int(match["y"]), int(match["m"]), int(match["d"]), *_clock(match), tzinfo=_zone(match["z"]))


def _twitter(text: str) -> datetime | None:
    match = _TWITTER.fullmatch(text)
    if match is None or match["mon"].lower() not in _MONTHS:
        return None
    month = _MONTHS[match["mon"].lower()]
    return datetime(int(match["y"]), month, int(match["d"]), *_clock(match), tzinfo=_zone(match["z"]))


def _rfc2822(text: str) -> datetime | None:
    if not re.search(r"[A-Za-z]{3}", text) or not re.search(r"\d{1,2}:\d{2}", text):
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    # RFC 2822 "-0000" (zone unknown) comes back naive: UTC is what the sender's clock meant
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _relative(text: str, local_now: datetime) -> datetime | None:
    """Weibo/Chinese and English relative times, against the fetch time in the source's zone."""
    lowered = text.lower()
    if lowered in _NOW_WORDS:
        return local_now
    match = _AGO_ZH.fullmatch(text)
    if match is not None:
        amount = 0.5 if match["n"] == "半" else float(match["n"])
        return local_now - timedelta(seconds=amount * _UNIT_SECONDS[match["u"]])
    match = _AGO_EN.fullmatch(text)
    if match is not None:
        amount = 1.0 if match["n"].lower() in ("a", "an", "one") else float(match["n"])
        unit = match["u"].lower()
        seconds = 2592000 if unit.startswith("mo") else _EN_UNITS[unit[0]]
        return local_now - timedelta(seconds=amount * seconds)
    match = _DAY_WORD.fullmatch(text)
    if match is not None:
        day = local_now - timedelta(days=_DAYS_BACK[match["w"].lower()])
        if match["H"] is None:
            return day
        hour, minute, second, micro = _clock(match)
        return day.replace(hour=hour, minute=minute, second=second, microsecond=micro)
    match = _MONTH_DAY.fullmatch(text)
    if match is not None:
        found = local_now.replace(month=int(match["m"]), day=int(match["d"]), hour=0, minute=0, second=0,
                                  microsecond=0)
        hour, minute, second, micro = _clock(match)
        found = found.replace(hour=hour, minute=minute, second=second, microsecond=micro)
        # a month-day later than now (beyond the slack) is from last year: 12-31 read on 01-02
        return found.replace(year=found.year - 1) if found > local_now + FUTURE_SLACK else found
    match = _BARE_CLOCK.fullmatch(text)
    if match is not None:
        hour, minute, second, micro = _clock(match)
        found = local_now.replace(hour=hour, minute=minute, second=second, microsecond=micro)
        return found - timedelta(days=1) if found > local_now else found
    return None
