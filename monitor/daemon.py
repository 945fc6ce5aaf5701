"""The daemon: polls sources on a schedule, delivers alerts, reloads, shuts down cleanly.

Signals: SIGTERM/SIGINT finish the batch in flight, flush the outbox and exit 0 within the
configured shutdown timeout; SIGHUP reloads the configuration (an invalid one is logged and the
running configuration kept).
"""

from __future__ import annotations

import functools
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import structlog

from monitor import errortext, netpolicy
from monitor.alerts.worker import DeliveryWorker
from monitor.config import AppConfig, SourceConfig, load_config
from monitor.errors import AuthError, ConfigError, SourceMissingError, UnavailableError, describe
from monitor.pipeline import PollStats, poll_source
from monitor.reports.jobs import schedule_jobs as schedule_report_jobs
from monitor.runtime import Runtime
from monitor.scheduler import (
    ESCALATION_JOB,
    RULES_JOB,
    add_interval_job,
    make_scheduler,
    poll_job_id,
)
from monitor.service import WATCHDOG_JOB, ServiceNotifier
from monitor.storage.models import utcnow

log = structlog.get_logger("yuqing.daemon")
MAX_BACKOFF = 900.0


@dataclass
class SourceHealth:
    failures: int = 0
    not_before: float = 0.0
    disabled: str | None = None
    failing_since: float | None = None  # monotonic time of the first failure of this episode
    episode: str = ""  # wall-clock start of the episode, for the operator


class Daemon:
    def __init__(self, config_path: Path, config: AppConfig) -> None:
        self.config_path = config_path
        self.runtime = Runtime(config)
        self.stop = threading.Event()
        self.health: dict[str, SourceHealth] = {}
        self.scheduler: Any = None
        self._reload_requested = threading.Event()
        self._wake = threading.Event()
        self._watchers: dict[str, threading.Thread] = {}
        self.http_server: Any = None
        self.worker: DeliveryWorker | None = None
        self.notifier = ServiceNotifier()

    # --- one poll -----------------------------------------------------------------------------
    def poll(self, source: SourceConfig) -> PollStats | None:
        """Poll one source fully; classify failures (disable, back off) so the daemon runs on."""
        health = self.health.setdefault(source.name, SourceHealth())
        if self._check_path(source):  # the path is back: poll now, whatever the backoff said
            health.not_before = 0.0
        if health.disabled or time.monotonic() < health.not_before or self.stop.is_set():
            return None
        runtime = self.runtime
        connector = runtime.connectors.get(source.name)
        if connector is None:
            return None
        bound = log.bind(source=source.name)
        try:
            stats = poll_source(
                runtime.context,
                source.name,
                connector,
                batch_size=source.batch_size,
                stop=self.stop,
                on_batch=self._after_batch,
            )
        except AuthError as exc:
            health.disabled = str(exc)
            bound.error("source_disabled", reason=str(exc))
            runtime.problems.report(
                f"source-auth:{source.name}",
                f"数据源 {source.name} 认证失败，已停用 Source {source.name} disabled: credentials rejected",
                [str(exc)],
                hint="修正凭据后 SIGHUP 重新加载 Fix the credentials, then reload (SIGHUP)",
            )
            self._kick_outbox()
            return None
        except Exception as exc:
            self._failed(source, health, exc)
            return None
        if health.failing_since is not None:
            bound.info("source_recovered", failures=health.failures, since=health.episode)
        health.failures, health.failing_since, health.episode = 0, None, ""
        told = runtime.problems.fixed(f"source-auth:{source.name}")
        if runtime.problems.fixed(f"source-stuck:{source.name}") or told:
            self._kick_outbox()
        # one summary event per poll; idle polls only at debug level so the log stays readable
        emit = bound.info if (stats.fetched or stats.quarantined) else bound.debug
        emit("poll", **stats.summary(), new_tickets=stats.new_ticket_codes[:10])
        return stats

    def _check_path(self, source: SourceConfig) -> bool:
        """A file-based source (files, maildir, mbox, chat export) whose ``path`` is missing is
        the ``source-path:<source>`` operator problem, told once; fixed when the path is back.
        True when it was fixed just now."""
        path = getattr(source.settings, "path", None)
        if not isinstance(path, Path):
            return False
        key = f"source-path:{source.name}"
        problems = self.runtime.problems
        fixed = False
        if path.exists():
            told = fixed = problems.fixed(key)
        else:
            told = problems.report(
                key,
                f"数据源 {source.name} 的路径不存在 Source {source.name}: path does not exist",
                [f"{path}: 不存在 missing (moved, unmounted or not created yet)"],
                hint="创建或挂载该路径，或修改配置后 SIGHUP Create or mount it, or fix the path and reload",
            )
        if told:
            self._kick_outbox()
        return fixed

    def _failed(self, source: SourceConfig, health: SourceHealth, exc: Exception) -> None:
        """Back off; a source failing for longer than ``interval_seconds x stuck_alert_intervals``
        is the ``source-stuck:<source>`` operator problem (told once, fixed when a poll works)."""
        bound = log.bind(source=source.name)
        now = time.monotonic()
        if health.failing_since is None:
            health.failing_since, health.episode = now, utcnow().isoformat()
        delay = netpolicy.backoff(health.failures, base=source.interval_seconds, cap=MAX_BACKOFF)
        health.failures += 1
        if isinstance(exc, SourceMissingError):
            delay = source.interval_seconds  # notice soon when the path (re)appears (_check_path tells)
        elif isinstance(exc, UnavailableError) and exc.retry_after:
            delay = max(delay, exc.retry_after)
        health.not_before = now + delay
        error = f"{type(exc).__name__}: {describe(exc)}"
        if isinstance(exc, UnavailableError):  # classified: the message says it all
            bound.error("poll_failed", error=error, retry_in_s=round(delay, 1))
        else:  # unexpected: a bug or an unclassified failure; keep the traceback
            bound.error("poll_failed", error=error, retry_in_s=round(delay, 1), exc_info=exc)
        if now - health.failing_since > source.interval_seconds * source.stuck_alert_intervals:
            try:
                told = self.runtime.problems.report(
                    f"source-stuck:{source.name}",
                    f"数据源 {source.name} 自 {health.episode} 起连续失败 Source {source.name} failing since "
                    f"{health.episode}",
                    [f"{error} ({health.failures} polls)"],
                    hint="检查数据源与网络；恢复后自动关闭 Check the source; closes by itself when a poll works",
                )
            except Exception as problem:  # the database may be what is down: try on the next failure
                bound.warning("operator_alert_failed", error=f"{type(problem).__name__}: {problem}")
                return
            if told:
                self._kick_outbox()

    def _after_batch(self, stats: PollStats) -> None:
        if self.worker is not None:
            self.worker.after_commit(stats.alerts)

    def _kick_outbox(self) -> None:
        if self.worker is not None:
            self.worker.kick()

    def deliver(self) -> None:
        stats = self.runtime.outbox.deliver(stop=self.stop)
        if stats.sent or stats.failed or stats.retried:
            log.info("outbox", sent=stats.sent, retried=stats.retried, failed=stats.failed)

    def escalate(self) -> None:
        """Story timers: grouped notifications due, escalation steps, quiet incidents resolved."""
        from monitor.storage.models import utcnow
        from monitor.stories.lifecycle import run_timers

        stats = run_timers(self.runtime.db, self.runtime.stories, now=utcnow())
        if stats.pages:
            self._kick_outbox()

    def http_routers(self) -> list[Any]:
        """Routers other parts of yuqing add to the HTTP application (health, metrics, surveys)."""
        return []

    def _start_http(self) -> None:
        """The one HTTP application (ack links, intake), when the configuration needs it."""
        config = self.runtime.config
        if not config.serves_http or self.http_server is not None:
            return
        from monitor.alerts.links import load_or_create_secret
        from monitor.http.app import build_app
        from monitor.http.context import HttpContext
        from monitor.http.server import HttpServer

        http = config.http_settings
        ctx = HttpContext(
            db=self.runtime.db,
            secret=load_or_create_secret(config.state_dir / "http.key"),
            stories=lambda: self.runtime.stories,
            signer=self.runtime.links,
            pipeline=(lambda: self.runtime.context()) if config.intake.enabled else None,
            intake=lambda: self.runtime.config.intake,
            state_dir=config.state_dir,
            max_body_bytes=int(http.max_body_mb * 1024 * 1024),
        )
        app = build_app(ctx, self.http_routers())
        self.http_server = HttpServer(
            app, host=http.listen, port=http.port, trusted_proxies=http.trusted_proxies
        ).start()
        log.info("http_server", listen=http.listen, port=self.http_server.port, links=ctx.signer is not None,
                 intake=config.intake.enabled)

    def check_rules(self) -> None:
        """Reload changed rule files; each invalid file is one operator problem listing all its
        errors (told once, however often it is saved broken), fixed when the file is valid again."""
        rules = self.runtime.rules
        before = rules.fingerprint
        error = rules.reload_if_changed()
        if error is None and rules.fingerprint == before:
            return
        if error is not None:  # issues are Chinese first with a hint (monitor/errortext.py)
            log.error("rules_kept", message=str(errortext.rules_kept(len(error.issues))))
        by_file: dict[str, list[str]] = {}
        for issue in error.issues if error is not None else []:
            log.error("rules_invalid", issue=str(issue), file=issue.file, line=issue.line)
            by_file.setdefault(issue.file, []).append(str(issue))
        told = [
            self.runtime.problems.report(
                f"rules:{file}",
                f"规则文件有错误，继续使用旧规则 Rule file invalid, old rules kept: {file}",
                issues,
                hint="保存修正后的文件即可，无需重启 Save the fixed file; no restart needed",
            )
            for file, issues in by_file.items()
        ]
        fixed = self.runtime.problems.fixed_except("rules:", keep={f"rules:{f}" for f in by_file})
        if any(told) or fixed:
            self._kick_outbox()

    # --- run modes ----------------------------------------------------------------------------
    def _settle_problems(self) -> None:
        """At start (schema upgraded): rules loaded, so rule problems left open are fixed; targets
        whose configuration changed since they were disabled are enabled."""
        self.runtime.problems.fixed_except("rules:")
        self.runtime.reconcile_targets()

    def run_once(self) -> int:
        """Poll every source once (to the end of what is there), deliver alerts, return exit code."""
        self.runtime.outbox.release_own_claims()
        self._settle_problems()
        failed = False
        for source in self.runtime.config.sources:
            if source.enabled and self.poll(source) is None:
                failed = True
        self.escalate()
        self.deliver()
        return 1 if failed else 0

    def run_forever(self) -> int:
        self.runtime.outbox.release_own_claims()
        self._settle_problems()
        self._install_signals()
        self.worker = DeliveryWorker(
            lambda: self.runtime.outbox,
            self.runtime.config.scheduler.outbox_interval_seconds,
            handoff=self.runtime.db.engine.dialect.name == "sqlite",
        ).start()
        self._start_scheduler()
        self._start_watchers()
        self._start_http()
        sources = [s.name for s in self.runtime.config.sources if s.enabled]
        log.info("started", sources=sources, watchdog_s=self.notifier.watchdog_seconds)
        self.notifier.ready(f"watching {len(sources)} sources")
        while not self.stop.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            if self._reload_requested.is_set():
                self._reload_requested.clear()
                self.reload()
        return self._shutdown()

    def _start_scheduler(self) -> None:
        config = self.runtime.config
        self.scheduler = make_scheduler(config.scheduler, workers=len(config.sources) + 4)
        self._schedule_sources()
        add_interval_job(
            self.scheduler, RULES_JOB, self.check_rules, config.rules.watch_seconds, start_now=False
        )
        add_interval_job(
            self.scheduler, ESCALATION_JOB, self.escalate, config.alerts.escalation_interval_seconds
        )
        schedule_report_jobs(self.scheduler, lambda: self.runtime)  # backup, monthly report mail
        if self.notifier.watchdog_seconds:
            add_interval_job(self.scheduler, WATCHDOG_JOB, self.notifier.watchdog, self.notifier.watchdog_seconds)
        self.scheduler.start()

    def _schedule_sources(self) -> None:
        config = self.runtime.config
        for source in config.sources:
            connector = self.runtime.connectors.get(source.name)
            if source.enabled and connector is not None and not connector.pushes():
                add_interval_job(
                    self.scheduler,
                    poll_job_id(source.name),
                    functools.partial(self.poll, source),
                    source.interval_seconds,
                    jitter=config.scheduler.jitter_seconds,
                )

    def _start_watchers(self) -> None:
        """Push-capable sources (IMAP IDLE) get a thread of their own instead of a timer job.

        Their connector is built for one loop ``fetch -> wait_for_changes -> fetch`` on one
        connection, so the thread does both: it polls, then waits until the source reports new
        data or the source's interval has passed, then polls again.
        """
        for source in self.runtime.config.sources:
            connector = self.runtime.connectors.get(source.name)
            if connector is None or not connector.pushes():
                continue
            running = self._watchers.get(source.name)
            if running is None or not running.is_alive():
                thread = threading.Thread(
                    target=self._watch, args=(source.name,), name=poll_job_id(source.name), daemon=True
                )
                self._watchers[source.name] = thread
                thread.start()

    def _watch(self, name: str) -> None:
        due = 0.0
        while not self.stop.is_set():
            source = next((s for s in self.runtime.config.sources if s.name == name and s.enabled), None)
            connector = self.runtime.connectors.get(name)
            if source is None or connector is None or not connector.pushes():
                return  # removed (or changed kind) by a reload
            if time.monotonic() >= due:
                self.poll(source)
                due = time.monotonic() + source.interval_seconds
            health = self.health.get(name)
            pause = 5.0 if health is not None and health.disabled else 0.0
            if health is not None and not pause:
                pause = max(0.0, health.not_before - time.monotonic())
            if pause:
                self.stop.wait(min(pause, max(0.5, due - time.monotonic())))
                continue
            try:
                changed = connector.wait_for_changes(max(0.5, due - time.monotonic()), self.stop)
            except Exception as exc:
                log.warning("watch_failed", source=name, error=f"{type(exc).__name__}: {exc}")
                self.stop.wait(5)
                continue
            if changed:
                due = 0.0

    def _shutdown(self) -> int:
        timeout = self.runtime.config.scheduler.shutdown_timeout_seconds
        deadline = time.monotonic() + timeout
        log.info("stopping", timeout_s=timeout)
        self.notifier.stopping()
        if self.scheduler is not None:
            closer = threading.Thread(target=self.scheduler.shutdown, kwargs={"wait": True}, daemon=True)
            closer.start()
            closer.join(max(0.5, deadline - time.monotonic() - 1.0))
            for thread in self._watchers.values():
                thread.join(max(0.1, deadline - time.monotonic() - 1.0))
            if closer.is_alive() or any(t.is_alive() for t in self._watchers.values()):
                log.warning("stop_timeout", note="a poll did not finish in time; its batch will be re-read")
        if self.worker is not None:
            self.worker.stop(max(0.1, deadline - time.monotonic() - 0.5))
        flush_stop = threading.Event()
        timer = threading.Timer(max(0.1, deadline - time.monotonic()), flush_stop.set)
        timer.start()
        try:
            stats = self.runtime.outbox.deliver(stop=flush_stop)
        finally:
            timer.cancel()
        if self.http_server is not None:
            self.http_server.stop()
        self.runtime.close()
        log.info("stopped", flushed=stats.sent)
        return 0

    # --- signals and reload -------------------------------------------------------------------
    def _install_signals(self) -> None:
        def on_stop(signum: int, _frame: FrameType | None) -> None:
            log.info("signal", signal=signal.Signals(signum).name)
            self.stop.set()
            self._wake.set()

        def on_hup(_signum: int, _frame: FrameType | None) -> None:
            self._reload_requested.set()
            self._wake.set()

        if threading.current_thread() is not threading.main_thread():
            return  # embedded (tests, other hosts): the caller stops us through ``request_stop``
        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_hup)

    def request_stop(self) -> None:
        self.stop.set()
        self._wake.set()

    def reload(self) -> bool:
        """Re-read the configuration file; keep running on the old one if the new one is invalid."""
        self.notifier.reloading()
        try:
            return self._reload()
        finally:
            self.notifier.ready("running")

    def _reload(self) -> bool:
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            for issue in exc.issues:
                log.error("config_invalid", issue=str(issue))
            log.error("reload_rejected", note="keeping the running configuration")
            return False
        old = self.runtime
        if config.database_url != old.config.database_url:
            log.warning("reload_database_ignored", note="changing database.url needs a restart")
            config = config.model_copy(update={"database": old.config.database})
        try:
            runtime = Runtime(config, db=old.db)
        except ConfigError as exc:
            for issue in exc.issues:
                log.error("rules_invalid", issue=str(issue))
            return False
        for source in old.config.sources:
            job = self.scheduler.get_job(poll_job_id(source.name)) if self.scheduler else None
            if job is not None:
                job.remove()
        self.runtime = runtime
        self.health = {k: v for k, v in self.health.items() if v.disabled is None}
        if runtime.reconcile_targets():
            self._kick_outbox()
        if self.scheduler is not None:
            self._schedule_sources()
            self._start_watchers()
        old.close()
        log.info("reloaded", sources=[s.name for s in config.sources if s.enabled])
        return True
