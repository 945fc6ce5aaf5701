"""Watching the watcher: what a daemon that runs can still get wrong, told to the operator.

All through the one route (:class:`~monitor.stories.operator.OperatorProblems`: told once,
"fixed" once):

* ``source-silent:<source>`` - no new message for longer than the source's
  ``expect_messages_within`` (a mailbox whose forwarding rule was removed polls fine and is
  silent);
* ``source-feed:<source>:<part>`` - one feed or RSSHub route of a source failing for longer than
  ``interval_seconds x stuck_alert_intervals`` while the others work;
* ``outbox-stuck`` - the oldest pending notification is older than ``alerts.outbox_stuck_seconds``.

:class:`HeartbeatPinger` pings an optional dead-man's-switch URL (e.g. Healthchecks) from a
scheduler job, only while the scheduler makes progress, so a dead or hung daemon is noticed from
outside.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import structlog

from monitor.config import SourceConfig
from monitor.health import SourceHealth
from monitor.storage.health_state import outbox_state
from monitor.storage.models import utcnow

if TYPE_CHECKING:
    from monitor.runtime import Runtime

log = structlog.get_logger("yuqing.watching")
KEY_LIMIT = 255  # operator_problems.key


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def check_silence(
    runtime: Runtime,
    sources: Mapping[str, SourceHealth],
    *,
    started: float,
    elsewhere: Collection[str] = (),
) -> bool:
    """Report sources silent beyond ``expect_messages_within``; True when a notice was queued.

    ``elsewhere``: sources another live instance polls - watched there (the clock moves to the
    next holder through ``source_health``), not here where no message of theirs arrives."""
    told = False
    now = time.monotonic()
    for source in runtime.config.sources:
        quiet = source.expect_messages_within
        if not source.enabled or quiet is None or source.name in elsewhere:
            continue
        state = sources.get(source.name)
        last = state.last_new_mono if state is not None and state.last_new_mono is not None else started
        if now - last <= quiet:
            continue
        told |= runtime.problems.report(
            f"source-silent:{source.name}",
            f"数据源 {source.name} 超过 {_minutes(quiet)} 没有新消息 Source {source.name}: no new message "
            f"for more than {_minutes(quiet)}",
            [f"上次新消息 last new message: {_minutes(now - last)} ago" + ("" if state and state.last_new_mono else
             " (none since start)")],
            hint="检查转发规则、订阅或账号是否仍然有效；有新消息后自动关闭 Check forwarding, subscriptions, "
            "accounts; closes by itself when a message arrives",
        )
    return told


def message_arrived(runtime: Runtime, source: SourceConfig) -> bool:
    """A new message from ``source``: its silence problem (if open) is fixed."""
    return runtime.problems.fixed(f"source-silent:{source.name}")


def check_parts(runtime: Runtime, source: SourceConfig, health: SourceHealth, parts: Mapping[str, str]) -> bool:
    """Feeds/routes of ``source`` failing longer than the stuck threshold are one problem each;
    parts that work again are fixed. True when a notice was queued."""
    now = time.monotonic()
    for part in list(health.parts_since):
        if part not in parts:
            del health.parts_since[part]
    threshold = source.interval_seconds * source.stuck_alert_intervals
    prefix = f"source-feed:{source.name}:"
    failing = set()
    told = False
    for part, error in parts.items():
        since = health.parts_since.setdefault(part, now)
        key = (prefix + part)[:KEY_LIMIT]
        failing.add(key)
        if now - since < threshold:
            continue
        told |= runtime.problems.report(
            key,
            f"数据源 {source.name} 的订阅 {part} 连续失败 Source {source.name}: feed {part} failing",
            [f"{error} (since {_minutes(now - since)} ago)"],
            hint="检查该路由或订阅地址（RSSHub 实例、反爬限制、账号）；恢复后自动关闭 Check the route or feed "
            "(RSSHub instance, anti-bot limits, account); closes by itself when it works",
        )
    fixed = runtime.problems.fixed_except(prefix, keep=failing)
    return told or bool(fixed)


def check_outbox(runtime: Runtime) -> bool:
    """``outbox-stuck`` while the oldest pending notification is older than the limit."""
    limit = runtime.config.alerts.outbox_stuck_seconds
    with runtime.db.read() as session:
        depth, oldest = outbox_state(session)
    age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    if age <= limit:
        return runtime.problems.fixed("outbox-stuck")
    return runtime.problems.report(
        "outbox-stuck",
        f"告警发件箱不再发送 Outbox not draining: oldest pending notification {_minutes(age)} old",
        [f"{depth} 条待发 pending; 最早 oldest {_minutes(age)} (limit {_minutes(limit)})"],
        hint="查看 `yuqing status` 与日志中的 alert_retry/alert_failed（目标与原因） See `yuqing status` and "
        "alert_retry/alert_failed in the log (target and reason)",
    )


class HeartbeatPinger:
    """POSTs to ``scheduler.heartbeat_url`` (a dead-man's switch) while ``alive()`` says so."""

    def __init__(self, url: Callable[[], str | None], alive: Callable[[], bool], *, timeout: float = 5.0) -> None:
        self._url = url
        self._alive = alive
        self._timeout = timeout
        self._session: Any = None  # requests is imported with the first ping (~5 MB unused otherwise)
        self.failures = 0

    def ping(self) -> bool:
        url = self._url()
        if not url or not self._alive():
            return False
        host = urlsplit(url).hostname or "?"  # the path is the check's secret: never logged
        import requests

        if self._session is None:
            self._session = requests.Session()
        try:
            answer = self._session.post(url, data=b"yuqing alive", timeout=self._timeout)
        except requests.RequestException as exc:
            self.failures += 1
            log.warning("heartbeat_failed", host=host, reason=type(exc).__name__)
            return False
        if answer.status_code >= 300:
            self.failures += 1
            log.warning("heartbeat_failed", host=host, reason=f"HTTP {answer.status_code}")
            return False
        self.failures = 0
        return True

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
