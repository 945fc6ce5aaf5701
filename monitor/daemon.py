"""The daemon: polls sources on a schedule, delivers alerts, reloads, shuts down cleanly.

Signals: SIGTERM/SIGINT finish the batch in flight, flush the outbox and exit 0 within the
configured shutdown timeout; SIGHUP reloads the configuration (an invalid one is logged and the
running configuration kept).
"""

from __future__ import annotations

import dataclasses
import functools
import random
import signal
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import structlog

from connectors.base import Connector
from monitor import errortext, gcfreeze, netpolicy, switching, watching
from monitor.alerts.worker import DeliveryWorker
from monitor.config import AppConfig, SourceConfig, load_config
from monitor.errors import AuthError, ConfigError, UnavailableError, describe
from monitor.health import DaemonHealth, SourceHealth, restore
from monitor.leases import LEADER, Fence, LeaseLost, Leases, member_lease, source_lease
from monitor.metrics import Metrics
from monitor.pipeline import PollStats, poll_source
from monitor.reports.jobs import BACKUP_JOB, MONTHLY_JOB, run_backup, run_monthly
from monitor.reports.jobs import schedule_jobs as schedule_report_jobs
from monitor.runtime import Runtime
from monitor.scheduler import (
    ESCALATION_JOB,
    FOLLOWUP_JOB,
    GC_FIRST_SECONDS,
    GC_INTERVAL_SECONDS,
    GC_JOB,
    HEARTBEAT_JOB,
    HEARTBEAT_URL_JOB,
    LEASES_JOB,
    RULES_JOB,
    SLA_INTERVAL_SECONDS,
    SLA_JOB,
    TAKEOVER_JOB,
    WATCH_JOB,
    add_interval_job,
    make_scheduler,
    poll_job_id,
    run_at,
    run_soon,
)
from monitor.service import WATCHDOG_JOB, ServiceNotifier
from monitor.storage.health_state import SourceHealthRecord, load_source_health, save_source_health
from monitor.storage.models import utcnow

if TYPE_CHECKING:
    from litestar import Router

log = structlog.get_logger("yuqing.daemon")
MAX_BACKOFF = 900.0
TAKEOVER_DELAY = timedelta(seconds=0.02)
"""After the earliest foreign lease's expiry, so the row's ``expires_at <= now`` holds."""


def settle_gc() -> None:
    """Collect once, then freeze what start-up built (configuration, rules, analysis engine,
    HTTP application, ORM mappers) out of the cyclic garbage collector's reach
    (``monitor.gcfreeze``); the :data:`GC_JOB` freezes what the first requests and polls build."""
    gcfreeze.settle()


class Daemon:
    def __init__(self, config_path: Path, config: AppConfig) -> None:
        self.config_path = config_path
        self.metrics = Metrics()  # one registry for the daemon's life, across reloads
        self.runtime = Runtime(config, metrics=self.metrics)
        self.started = time.monotonic()
        self.progress: float | None = None  # monotonic time of the scheduler's last heartbeat job
        self._health: DaemonHealth | None = None
        self.stop = threading.Event()
        self.abandoned = False  # set when a poll was still running at the end of the stop timeout
        self.health: dict[str, SourceHealth] = {}
        self.scheduler: Any = None
        self._reload_requested = threading.Event()
        self._wake = threading.Event()
        self._watchers: dict[str, threading.Thread] = {}
        self.http_server: Any = None
        self.worker: DeliveryWorker | None = None
        self.notifier = ServiceNotifier()
        self.pinger: watching.HeartbeatPinger | None = None
        instance = config.instance
        self.leases = Leases(self.runtime.db, instance.id, instance.lease_seconds)
        self.fences: dict[str, Fence] = {}  # source name -> our lease on it
        self.leader: Fence | None = None
        self.member: Fence | None = None  # instance:<id>, renewed while we run
        self.share_sources = True  # run --once takes every free source
        self._fences_lock = threading.Lock()
        self._acquiring: dict[str, threading.Lock] = {}  # source -> one acquisition at a time (poll, take_over)
        self._takeover_lock = threading.Lock()
        self._fresh: dict[str, float] = {}  # source -> monotonic time its lease was just taken
        self._inflight: set[str] = set()  # sources a poll runs for now, under a lease
        self._polled_epoch: dict[str, int] = {}  # source -> epoch of the lease its last poll ran under
        self.elsewhere: dict[str, str] = {}  # source -> the other instance holding it (last lease job)

    # --- one poll -----------------------------------------------------------------------------
    def poll(self, source: SourceConfig) -> PollStats | None:
        """Poll one source fully; classify failures (disable, back off) so the daemon runs on."""
        health = self.health.setdefault(source.name, SourceHealth())
        if self._check_path(source):  # the path is back: poll now, whatever the backoff said
            health.not_before = 0.0
        if time.monotonic() < health.not_before or self.stop.is_set():
            return None
        runtime = self.runtime
        connector = runtime.connectors.get(source.name)
        if connector is None:
            return None
        try:
            fence = self._source_fence(source.name)
        except Exception as exc:  # the database is away: the same backoff as a failed poll
            self._failed(source, health, exc)
            return None
        if fence is None:
            return None  # another instance polls this source
        with self._fences_lock:
            self._inflight.add(source.name)
        try:
            return self._poll_under(source, health, connector, fence)
        finally:
            with self._fences_lock:
                self._inflight.discard(source.name)

    def _poll_under(
        self, source: SourceConfig, health: SourceHealth, connector: Connector[Any], fence: Fence
    ) -> PollStats | None:
        """The poll itself, under ``fence`` (see :meth:`poll`)."""
        runtime = self.runtime
        if self._polled_epoch.get(source.name) != fence.epoch:  # first poll under a new lease
            self._polled_epoch[source.name] = fence.epoch
            log.info("lease_first_poll", source=source.name, epoch=fence.epoch)
            self.restore_health([source.name], taken=True)  # here, so no update of this poll is lost
        bound = log.bind(source=source.name)
        started = time.monotonic()
        try:
            stats = poll_source(
                runtime.context,
                source.name,
                connector,
                batch_size=source.batch_size,
                stop=self.stop,
                on_batch=self._after_batch,
                fence=fence,
            )
        except LeaseLost as exc:
            self._lease_lost(source.name, exc, fence)
            return None
        except AuthError as exc:
            self.metrics.poll(source.name, time.monotonic() - started, "auth")
            self._auth_failed(source, health, exc)
            self._persist(source, health, changed=True)
            return None
        except Exception as exc:
            self.metrics.poll(source.name, time.monotonic() - started, "failed")
            self._failed(source, health, exc)
            self._persist(source, health, changed=True)
            self._watch_parts(source, health)
            return None
        self.metrics.poll(source.name, time.monotonic() - started, "ok")
        self._succeeded(source, health)
        if stats.new:  # kept in the row at once: the silence watch's clock survives a restart
            health.last_new_mono, health.last_new_at = time.monotonic(), utcnow()
        self._persist(source, health, changed=bool(stats.new))
        if stats.new and watching.message_arrived(runtime, source):
            self._kick_outbox()
        self._watch_parts(source, health)
        # one summary event per poll; idle polls only at debug level so the log stays readable
        emit = bound.info if (stats.fetched or stats.quarantined) else bound.debug
        emit("poll", **stats.summary(), new_tickets=stats.new_ticket_codes[:10])
        return stats

    def _succeeded(self, source: SourceConfig, health: SourceHealth) -> None:
        bound = log.bind(source=source.name)
        if health.failing_since is not None or health.disabled:
            bound.info("source_recovered", failures=health.failures, since=health.episode)
            health.saved = None  # the row still says failing: write it now
        health.failures, health.failing_since, health.episode = 0, None, ""
        health.disabled, health.probes, health.not_before, health.failing_since_at = None, 0, 0.0, None
        health.last_success, health.last_success_mono = utcnow(), time.monotonic()
        runtime = self.runtime
        told = runtime.problems.fixed(f"source-auth:{source.name}")
        if runtime.problems.fixed(f"source-stuck:{source.name}") or told:
            self._kick_outbox()

    def _auth_failed(self, source: SourceConfig, health: SourceHealth, exc: AuthError) -> None:
        """Credentials rejected: the source is paused and re-probed with backoff from a quarter
        interval up to ``auth_retry_max_seconds`` (default one interval: never more often than it
        would poll, never less often either, so a fixed password is seen within an interval plus
        the server's own login delay); the operator is told once, and again when it works."""
        now = time.monotonic()
        if health.failing_since is None:
            health.failing_since, health.failing_since_at = now, utcnow()
            health.episode = health.failing_since_at.isoformat()
        first = health.disabled is None
        health.disabled = str(exc)
        health.last_error, health.last_error_at = f"AuthError: {exc}", utcnow()
        cap = source.auth_retry_max_seconds or source.interval_seconds
        delay = netpolicy.backoff(health.probes, base=min(cap, source.interval_seconds / 4), cap=cap)
        health.probes += 1
        health.failures += 1
        health.not_before = now + delay
        log.bind(source=source.name).error(
            "source_disabled" if first else "source_reprobe_failed", reason=str(exc), retry_in_s=round(delay, 1)
        )
        try:
            told = self.runtime.problems.report(
                f"source-auth:{source.name}",
                f"数据源 {source.name} 认证失败，已暂停 Source {source.name} paused: credentials rejected",
                [str(exc)],
                hint="修正凭据；系统会定期重试，恢复后自动关闭 Fix the credentials; retried regularly, "
                "closes by itself when a login works",
            )
        except Exception as problem:  # the database may be what is down: try on the next probe
            log.warning("operator_alert_failed", source=source.name, error=f"{type(problem).__name__}: {problem}")
            return
        if told:
            self._kick_outbox()
    # --- leases (several instances on one database; docs/scaling.md) ----------------------------
    def _polled_sources(self) -> list[str]:
        return [s.name for s in self.runtime.config.sources if s.enabled and s.name in self.runtime.connectors]

    def _source_fence(self, name: str) -> Fence | None:
        """Our lease on source ``name``: renewed if held, taken if free and we are under our fair
        share of the sources (``share``), released if we hold more than that share. None: not ours."""
        share = self.share_sources
        with self._fences_lock:
            fence = self.fences.get(name)
            taken_at = self._fresh.pop(name, None)
        if fence is not None and taken_at is not None and time.monotonic() - taken_at < fence.seconds / 4:
            return fence  # just taken (take_over): no renewal or share check before its first poll
        if fence is not None:
            limit = self.leases.fair_share(len(self._polled_sources())) if share else len(self.fences)
            if len(self.fences) > limit:  # an instance joined: hand this one over
                self._drop_fence(name, release=True, why="rebalance")
                return None
            if self.leases.renew(fence):
                return fence
            self._drop_fence(name, release=False, why="taken over", only=fence)
            return None
        if share and len(self.fences) >= self.leases.fair_share(len(self._polled_sources())):
            return None
        return self._acquire_source(name)

    def _acquire_source(self, name: str) -> Fence | None:
        """Take source ``name``'s lease if free or expired (or return ours: take_over was quicker)."""
        with self._fences_lock:
            lock = self._acquiring.setdefault(name, threading.Lock())
        with lock:
            with self._fences_lock:
                fence = self.fences.get(name)
            if fence is not None:
                return fence
            fence = self.leases.acquire(source_lease(name))
            if fence is not None:
                with self._fences_lock:
                    self.fences[name] = fence
                    self._fresh[name] = time.monotonic()
                log.info("lease_acquired", source=name, epoch=fence.epoch)
            return fence

    def restore_health(self, names: list[str], *, taken: bool = False) -> None:
        """Per-source health as ``source_health`` kept it: at start for every source (a source
        failing, paused or silent since before a restart keeps its clocks: stuck and silence
        alerts, ``/readyz``, ``yuqing status``), and for a source just ``taken`` over when another
        instance wrote its row since (its clocks move with the lease)."""
        try:
            with self.runtime.db.read() as session:
                rows = load_source_health(session)
        except Exception as exc:  # the database may be away: the clocks start now instead
            log.warning("source_health_not_loaded", error=f"{type(exc).__name__}: {exc}")
            return
        now, mono = utcnow(), time.monotonic()
        for name in names:
            row = rows.get(name)
            state = self.health.setdefault(name, SourceHealth())  # a poll in flight holds this one
            if row is None or (taken and row.instance == self.leases.holder and state.last_attempt is not None):
                continue  # nothing kept, or our own state is the newer one
            kept = restore(row, now=now, mono=mono)
            for item in dataclasses.fields(SourceHealth):
                setattr(state, item.name, getattr(kept, item.name))
            log.info("source_health_restored", source=name, failures=row.failures,
                     disabled=row.disabled_reason is not None, instance=row.instance)

    def take_over(self) -> None:
        """Take free or expired source leases (a dead instance's) up to our fair share and poll
        each at once; then wake again exactly when the earliest lease another instance holds
        expires (one of its sources, or its member lease: our share grows). A takeover so waits
        neither for a poll tick nor for this housekeeping's own interval."""
        if not self.share_sources or self.stop.is_set():
            return
        if not self._takeover_lock.acquire(blocking=False):
            return  # running already (the lease job and the one-shot wake met)
        scheduler = self.scheduler
        try:
            polled = self._polled_sources()
            taken: list[str] = []
            with self._fences_lock:
                held = set(self.fences)
                busy = self._inflight - held  # a poll under a lease lost meanwhile (e.g. paused): its
                # job cannot run again before that poll ends - leave the source to another instance
            found = self.leases.takeover([name for name in polled if name not in held and name not in busy])
            self.elsewhere = found.others
            room = self.leases.fair_share(len(polled)) - len(held) if found.free else 0
            free = list(found.free)
            random.shuffle(free)  # instances waking together contend less for the same rows
            for name in free:
                if len(taken) >= room:
                    break
                if self._acquire_source(name) is not None:
                    taken.append(name)
                    if scheduler is not None:  # now, not at its next tick (push sources poll on their own)
                        run_soon(scheduler, poll_job_id(name))
        except Exception as exc:  # the database may be away; the lease job tries again
            log.warning("leases_failed", error=f"{type(exc).__name__}: {exc}")
            return
        finally:
            self._takeover_lock.release()
        if scheduler is not None and found.wake is not None and not self.stop.is_set():
            run_at(scheduler, TAKEOVER_JOB, self.take_over, found.wake + TAKEOVER_DELAY)

    def lease_job(self) -> None:
        """Scheduler job, a quarter lease apart: renew ours, then take what expired."""
        self.keep_leases()
        self.take_over()

    def _drop_fence(self, name: str, *, release: bool, why: str, only: Fence | None = None) -> None:
        """Forget (and ``release``) our lease on ``name``; with ``only``: just that one - a lease
        taken again meanwhile (a newer epoch) stays."""
        with self._fences_lock:
            fence = self.fences.get(name)
            if fence is None or (only is not None and fence != only):
                return
            del self.fences[name]
        if release:
            self.leases.release(fence)
        log.info("lease_released", source=name, epoch=fence.epoch, why=why)

    def _lease_lost(self, name: str, exc: LeaseLost, fence: Fence) -> None:
        """A batch under ``fence`` was fenced off. Only that lease is forgotten: a poll that began
        before a pause may fail long after this instance took the source again (a newer epoch)."""
        with self._fences_lock:
            if self.fences.get(name) == fence:
                del self.fences[name]
        log.warning("lease_lost", source=name, error=str(exc), note="the batch is left to the new holder")

    def _leading(self) -> bool:
        """Whether this instance runs the cluster-wide jobs (story timers, reports): it holds or
        takes the ``leader`` lease."""
        leader = self.leader
        if leader is not None and self.leases.renew(leader):
            return True
        self.leader = self.leases.acquire(LEADER)
        if self.leader is not None and (leader is None or leader.epoch != self.leader.epoch):
            log.info("leader", epoch=self.leader.epoch)
        return self.leader is not None

    def keep_leases(self) -> None:
        """Housekeeping: say we are alive, keep the source leases of long polls from expiring."""
        try:
            self.member = self.leases.acquire(member_lease(self.leases.holder))
            with self._fences_lock:
                held = dict(self.fences)
            polled = set(self._polled_sources())
            for name, fence in held.items():
                if name not in polled:  # removed or disabled by a reload
                    self._drop_fence(name, release=True, why="not configured")
                elif not self.leases.renew(fence):
                    self._drop_fence(name, release=False, why="taken over", only=fence)
            self._leading()
        except Exception as exc:  # the database may be away; the next run tries again
            log.warning("leases_failed", error=f"{type(exc).__name__}: {exc}")

    def _release_leases(self) -> None:
        """Clean stop: give every lease back so the other instances take over at once."""
        try:
            for name in list(self.fences):
                self._drop_fence(name, release=True, why="stopping")
            for fence in (self.leader, self.member):
                if fence is not None:
                    self.leases.release(fence)
            self.leader = self.member = None
        except Exception as exc:
            log.warning("leases_failed", error=f"{type(exc).__name__}: {exc}")

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
            health.failing_since, health.failing_since_at = now, utcnow()
            health.episode = health.failing_since_at.isoformat()
        health.failures += 1
        delay = self._retry_delay(source, exc)
        health.not_before = now + delay
        error = f"{type(exc).__name__}: {describe(exc)}"
        health.last_error, health.last_error_at = error, utcnow()
        if isinstance(exc, UnavailableError):  # classified: the message says it all
            bound.error("poll_failed", error=error, retry_in_s=round(delay, 1))
        else:  # unexpected: a bug or an unclassified failure; keep the traceback
            bound.error("poll_failed", error=error, retry_in_s=round(delay, 1), exc_info=exc)
        connector = self.runtime.connectors.get(source.name)
        if connector is not None and connector.failing_parts():
            return  # parts (feeds, routes) failed: each is its own problem (``_watch_parts``)
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

    def _persist(self, source: SourceConfig, health: SourceHealth, *, changed: bool = False) -> None:
        """Write the source's row in ``source_health`` (``yuqing status``): at once when something
        changed, after a good poll at most once per interval (or 30 s) so fast sources stay cheap."""
        now = time.monotonic()
        health.last_attempt = utcnow()
        if not changed and health.saved is not None and now - health.saved < min(30.0, source.interval_seconds):
            return
        record = SourceHealthRecord(
            source=source.name,
            last_success_at=health.last_success,
            last_attempt_at=health.last_attempt,
            last_error=health.last_error,
            last_error_at=health.last_error_at,
            failures=health.failures,
            failing_since=health.failing_since_at,
            disabled_reason=health.disabled,
            last_new_at=health.last_new_at,
        )
        try:
            save_source_health(self.runtime.db, self.runtime.config.instance.id, record)
        except Exception as exc:  # the database may be what is down; the next poll writes again
            log.warning("source_health_not_saved", source=source.name, error=f"{type(exc).__name__}: {exc}")
            return
        health.saved = now

    @staticmethod
    def _retry_delay(source: SourceConfig, exc: Exception) -> float:
        """Seconds before the next poll may run after a failure. The connector has already
        retried with its own backoff inside the failed fetch, so the daemon adds none of its own:
        the source is polled again at its next tick (within one interval of the server coming
        back), unless the error asks for a pause (``retry_after``: an HTTP ``Retry-After``, a rate
        budget, a subreddit that went private), honoured up to :data:`MAX_BACKOFF`."""
        if isinstance(exc, UnavailableError) and exc.retry_after:
            return min(MAX_BACKOFF, exc.retry_after)
        return 0.0

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

        if not self._leading():
            return
        stats = run_timers(self.runtime.db, self.runtime.stories, now=utcnow())
        if stats.pages:
            self._kick_outbox()

    def _watch_parts(self, source: SourceConfig, health: SourceHealth) -> None:
        connector = self.runtime.connectors.get(source.name)
        parts = connector.failing_parts() if connector is not None else None
        if parts is None:
            return
        try:
            told = watching.check_parts(self.runtime, source, health, parts)
        except Exception as exc:  # the database may be down: the next poll looks again
            log.warning("watch_failed", source=source.name, error=f"{type(exc).__name__}: {exc}")
            return
        if told:
            self._kick_outbox()

    def watch(self) -> None:
        """Scheduler job: silent sources and a stuck outbox are operator problems."""
        try:
            told = watching.check_silence(self.runtime, self.health, started=self.started, elsewhere=set(self.elsewhere))
            told = watching.check_outbox(self.runtime) or told
        except Exception as exc:  # the database may be down: look again next time
            log.warning("watch_failed", error=f"{type(exc).__name__}: {exc}")
            return
        if told:
            self._kick_outbox()

    def heartbeat(self) -> None:
        """Scheduler job: the scheduler runs jobs, so it makes progress (``/healthz``)."""
        self.progress = time.monotonic()

    def _heartbeat_url(self) -> str | None:
        url = self.runtime.config.scheduler.heartbeat_url
        return url.get_secret_value() if url is not None else None

    def health_provider(self) -> DaemonHealth:
        """The provider behind ``/healthz``, ``/readyz`` and ``/metrics`` (one per daemon)."""
        if self._health is None:
            self._health = DaemonHealth(
                lambda: self.runtime,
                lambda: self.health,
                lambda: self.progress,
                started=self.started,
                elsewhere=lambda: self.elsewhere,
            )
        return self._health

    def health_router(self) -> Router:
        """``monitor.http.health.health_router`` over this daemon; mount it in the web app."""
        from monitor.http.health import health_router

        return health_router(self.health_provider())

    def check_sla(self) -> None:
        """SLA warnings and breaches through the route (breaches paged along the on-call chain),
        breach stories whose clock stopped resolved, ``sla_results`` refreshed."""
        from monitor.stories.sla import run_sla

        if not self._leading():  # one instance runs the SLA timers (docs/scaling.md)
            return
        config = self.runtime.config
        run = run_sla(self.runtime.db, self.runtime.stories, config.sla, config.calendars, now=utcnow())
        if run.rows:
            self._kick_outbox()

    def follow_up(self) -> None:
        """Satisfaction follow-ups for tickets resolved since the last run (mailed on the thread)."""
        from monitor.feedback.job import run_followups

        if not self._leading():  # sends are claimed per row too; the leader alone saves the work
            return
        config = self.runtime.config
        run_followups(
            self.runtime.db, config.feedback, config.alerts.targets, self.runtime.links, now=utcnow()
        )


    def http_routers(self) -> list[Any]:
        """Routers other parts of yuqing add to the HTTP application: ``/healthz``, ``/readyz``,
        ``/metrics`` always; the signed satisfaction/survey page when links are signed."""
        routers: list[Any] = [self.health_router()]
        if self.runtime.links is not None:
            from monitor.http.satisfaction import satisfaction_router

            routers.append(satisfaction_router(self.runtime.db, self.runtime.links))
        return routers

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
        intake = None
        if ctx.pipeline is not None:
            from monitor.http.intake_api import Intake

            intake = Intake(ctx)
        app = build_app(ctx, self.http_routers(), intake=intake)
        if config.http_front_process:
            self.http_server = self._front_server(app, ctx, intake)
        else:
            self.http_server = HttpServer(
                app, host=http.listen, port=http.port, trusted_proxies=http.trusted_proxies
            ).start()
        log.info("http_server", listen=http.listen, port=self.http_server.port, links=ctx.signer is not None,
                 intake=config.intake.enabled, front_process=config.http_front_process)

    def _front_server(self, app: Any, ctx: Any, intake: Any) -> Any:
        """The application served by an HTTP front process (``monitor.http.front``)."""
        from monitor.http.asgi_host import AsgiHost
        from monitor.http.front import FrontServer, SharedLimiter
        from monitor.http.front_child import FrontSpec
        from monitor.http.front_intake import FrontIntake
        from monitor.http.server import listening_socket

        config = self.runtime.config
        http = config.http_settings
        spec = FrontSpec(
            database_url=config.database_url,
            secret=ctx.secret,
            state_dir=config.state_dir,
            intake=config.intake if config.intake.enabled else None,
            rules=self._rules_spec(),
            max_body_bytes=ctx.max_body_bytes,
            trusted_proxies=tuple(http.trusted_proxies),
            log_level=config.logging.level,
            log_format=config.logging.format,
        )
        handlers: dict[str, Any] = {}
        front = FrontServer(AsgiHost(app), listening_socket(http.listen, http.port), spec, handlers,
                            stopping=self.stop.is_set)
        if intake is not None:
            side = FrontIntake(intake, lambda: self.runtime.context(), self._rules_spec, front.push_rules)
            handlers.update(submit=side.submit, check=side.check)
            intake.limits.submit = SharedLimiter(lambda: front.channel, intake.limits.submit)  # one budget
        return front.start()

    def _rules_spec(self) -> Any:
        """Where the live analyzer came from, for the HTTP front process's analysis."""
        from monitor.http.front_rules import RulesSpec

        rules = self.runtime.rules
        return RulesSpec(tuple(rules.paths), rules.sentiment, rules.max_chars, rules.loaded)

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
        whose configuration changed since they were disabled are enabled; each source's health
        as it was before the restart."""
        self.runtime.problems.fixed_except("rules:")
        self.runtime.reconcile_targets()
        self.restore_health([s.name for s in self.runtime.config.sources if s.enabled])

    def run_once(self) -> int:
        """One full cycle, for cron and scripted checks: poll every source once (to the end of
        what is there), then the leader's housekeeping the scheduler would run (SLA warnings and
        breaches, satisfaction follow-ups, story timers, the backup and monthly-report mail when
        due), deliver alerts; exit code 1 when a source or a job failed."""
        self.runtime.outbox.release_own_claims()
        self._settle_problems()
        settle_gc()  # as run_forever: a long first poll's full collections skip start-up's heap
        self.share_sources = False
        self.member = self.leases.acquire(member_lease(self.leases.holder))
        failed = False
        for source in self.runtime.config.sources:
            # None: failed, or held by another instance right now (not a failure of this run)
            if source.enabled and self.poll(source) is None and self._failed_here(source.name):
                failed = True
        jobs: list[tuple[str, Callable[[], object]]] = [(SLA_JOB, self.check_sla)]
        if self.runtime.config.feedback.satisfaction.enabled:
            jobs.append((FOLLOWUP_JOB, self.follow_up))
        jobs += [
            (ESCALATION_JOB, self.escalate),
            (BACKUP_JOB, lambda: self._leading() and run_backup(self.runtime)),
            (MONTHLY_JOB, lambda: self._leading() and run_monthly(self.runtime)),
        ]
        for name, job in jobs:
            try:
                job()
            except Exception as exc:  # the next job and the delivery still run; the exit code tells
                log.error("job_failed", job=name, error=f"{type(exc).__name__}: {exc}")
                failed = True
        self._release_leases()
        self.deliver()
        return 1 if failed else 0

    def _failed_here(self, name: str) -> bool:
        health = self.health.get(name)
        return name in self.fences or (health is not None and bool(health.disabled or health.failures))

    def run_forever(self) -> int:
        self.runtime.db.checkpoint_in_background()  # SQLite: WAL checkpoints off the commit path
        self.runtime.outbox.release_own_claims()
        self._settle_problems()
        self.keep_leases()
        self._install_signals()
        self.worker = DeliveryWorker(
            lambda: self.runtime.outbox,
            self.runtime.config.scheduler.outbox_interval_seconds,
            handoff=self.runtime.db.engine.dialect.name == "sqlite",
        ).start()
        self._start_scheduler()
        self._start_watchers()
        self._start_http()
        settle_gc()
        switching.apply()  # the intake writer gets the GIL back from busy threads sooner
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
        add_interval_job(self.scheduler, SLA_JOB, self.check_sla, SLA_INTERVAL_SECONDS, start_now=False)
        if config.feedback.satisfaction.enabled:
            add_interval_job(
                self.scheduler,
                FOLLOWUP_JOB,
                self.follow_up,
                config.feedback.satisfaction.interval_seconds,
                start_now=False,
            )
        schedule_report_jobs(self.scheduler, lambda: self.runtime, self._leading)  # backup, monthly report mail
        add_interval_job(self.scheduler, HEARTBEAT_JOB, self.heartbeat, config.scheduler.heartbeat_seconds)
        add_interval_job(self.scheduler, GC_JOB, gcfreeze.Refreezer(), GC_INTERVAL_SECONDS, first=GC_FIRST_SECONDS)
        add_interval_job(self.scheduler, WATCH_JOB, self.watch, config.scheduler.watch_seconds, start_now=False)
        if config.scheduler.heartbeat_url is not None:
            self.pinger = watching.HeartbeatPinger(self._heartbeat_url, lambda: self.health_provider().liveness().ok)
            add_interval_job(self.scheduler, HEARTBEAT_URL_JOB, self.pinger.ping, config.scheduler.heartbeat_url_seconds)
        # a quarter lease: renewals well inside the expiry; the takeover wake time kept current
        add_interval_job(self.scheduler, LEASES_JOB, self.lease_job, config.instance.lease_seconds / 4)
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
            health = self.health.get(name)
            if health is not None and health.disabled and time.monotonic() >= health.not_before:
                due = 0.0  # a paused source is re-probed on its own backoff, not at the interval
            if time.monotonic() >= due:
                self.poll(source)
                due = time.monotonic() + source.interval_seconds
            health = self.health.get(name)
            pause = 0.0
            if health is not None and health.disabled:  # until the next re-probe
                pause = max(0.0, min(health.not_before, due) - time.monotonic())
            elif health is not None and health.failures:  # the next interval (or the server's Retry-After)
                pause = max(0.0, max(health.not_before, due) - time.monotonic())
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
                self.abandoned = True
        if not self.abandoned:
            self._finish_stop(deadline)
            return 0
        # A poll is stuck on something outside the process (a lock a stalled peer holds): the
        # steps below write to the same database and could wait as long, so they get what is left
        # of the timeout (plus a grace second) in a thread the exit does not wait for.
        finisher = threading.Thread(target=self._finish_stop, args=(deadline,), name="stop", daemon=True)
        finisher.start()
        finisher.join(max(1.0, deadline - time.monotonic() + 1.0))
        if finisher.is_alive():
            log.warning("stop_abandoned", note="leases, outbox flush and close skipped: the database did not answer")
        return 0

    def _finish_stop(self, deadline: float) -> None:
        """Release leases, stop the delivery worker, flush what is due, close (bounded by ``deadline``)."""
        self._release_leases()
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
        if self.pinger is not None:
            self.pinger.close()
        self.runtime.close()
        self.runtime.db.stop_checkpoints()
        log.info("stopped", flushed=stats.sent)

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
            runtime = Runtime(config, db=old.db, metrics=self.metrics)
        except ConfigError as exc:
            for issue in exc.issues:
                log.error("rules_invalid", issue=str(issue))
            return False
        for source in old.config.sources:
            job = self.scheduler.get_job(poll_job_id(source.name)) if self.scheduler else None
            if job is not None:
                job.remove()
        self.runtime = runtime
        if self.http_server is not None:
            self.http_server.reconfigure(config.intake)
        self.health = {k: v for k, v in self.health.items() if v.disabled is None}
        if runtime.reconcile_targets():
            self._kick_outbox()
        if self.scheduler is not None:
            self._schedule_sources()
            self._start_watchers()
        old.close()
        log.info("reloaded", sources=[s.name for s in config.sources if s.enabled])
        return True
