"""Everything built from one configuration: database, analyzer, connectors, senders, outbox.

The daemon holds one Runtime and swaps in a new one on reload; ``run --once`` and the CLI build
the same pieces, so there is one way to wire the system.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from connectors.base import Connector
from connectors.registry import connector_class
from monitor.alerts.links import LinkSigner, load_or_create_secret
from monitor.alerts.outbox import Outbox
from monitor.alerts.senders.base import Sender
from monitor.alerts.senders.guard import TargetGuard, guard_senders
from monitor.alerts.senders.registry import sender_class
from monitor.analysis.engine import MAX_CHARS, load_analyzer, rules_fingerprint
from monitor.analysis.lint import ime_slips
from monitor.analysis.schema import SentimentSettings
from monitor.config import AppConfig, SourceConfig
from monitor.errors import ConfigError
from monitor.findings import Analyzer
from monitor.ingest.analyse import AnalysisPool, default_workers
from monitor.metrics import Metrics
from monitor.pipeline import PipelineContext
from monitor.storage.db import Database
from monitor.storage.models import utcnow
from monitor.stories.oncall_config import load_oncall
from monitor.stories.operator import OperatorProblems
from monitor.stories.queue import enqueue_operator_alert
from monitor.stories.settings import StoriesSettings, build_settings
from monitor.targets import TargetConfig

log = structlog.get_logger("yuqing")


def build_connector(source: SourceConfig) -> Connector[Any]:
    return connector_class(source.kind)(source.name, source.settings)


def build_senders(targets: list[TargetConfig]) -> dict[str, Sender]:
    return {t.name: sender_class(t.kind)(t.name, t.settings) for t in targets if t.enabled}


def link_signer(config: AppConfig) -> LinkSigner:
    ack = config.alerts.ack
    secret = (
        ack.secret.get_secret_value().encode()
        if ack.secret is not None
        else load_or_create_secret(config.state_dir / "ack.key")
    )
    base = ack.public_url or f"http://{ack.listen}:{ack.port}"
    return LinkSigner(secret, base, timedelta(hours=ack.link_ttl_hours))


def build_stories(config: AppConfig) -> StoriesSettings:
    """Route tree, targets, on-call schedule and incident settings (ConfigError if invalid)."""
    targets = [t for t in config.alerts.targets if t.enabled]
    oncall = None
    if config.alerts.oncall is not None:
        oncall = load_oncall(config.alerts.oncall, known_targets={t.name for t in targets})
    return build_settings(
        config.alerts.route, config.alerts.targets, config.incidents, oncall, file=config.source_file
    )


def build_context(
    config: AppConfig,
    db: Database,
    analyzer: Analyzer,
    *,
    stories: StoriesSettings | None = None,
    alerting: bool = True,
    clock: Callable[[], datetime] = utcnow,
    pool: AnalysisPool | None = None,
    metrics: Metrics | None = None,
) -> PipelineContext:
    """The one way to make a :class:`PipelineContext`: everything from the configuration."""
    return PipelineContext(
        db, analyzer, stories or build_stories(config), clock, alerting, config.tickets, pool, metrics
    )


def watched_files(paths: list[Path], sentiment: SentimentSettings | None) -> list[Path]:
    """Rule paths plus a user sentiment model/lexicon: retraining reloads like a rule edit."""
    extra = [Path(p) for p in (sentiment.model, sentiment.lexicon) if p] if sentiment else []
    return [*paths, *extra]


def log_ime_slips(paths: list[Path]) -> None:
    """Valid rules can still hold input-method slips that make a keyword dead (``[拉肚子，腹泻]``):
    say so in the log, with file, line and the fix, whenever rules are (re)loaded."""
    for item in ime_slips(paths):
        issue = item.issue
        log.warning("rules_warning", issue=str(issue), file=issue.file, line=issue.line)


@dataclass
class RulesHolder:
    """The live analyzer, swapped atomically when the rule files (or sentiment files) change and validate."""

    paths: list[Path]
    analyzer: Analyzer
    fingerprint: str
    sentiment: SentimentSettings | None = None
    last_error: str | None = None
    max_chars: int = MAX_CHARS
    loaded: str = ""
    """The fingerprint of the files the live analyzer was built from (``fingerprint`` moves on to
    files that failed to validate; this does not): what the HTTP front process must match."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(
        cls, paths: list[Path], sentiment: SentimentSettings | None = None, *, max_chars: int = MAX_CHARS
    ) -> RulesHolder:
        fingerprint = rules_fingerprint(watched_files(paths, sentiment))
        analyzer = load_analyzer(paths, sentiment=sentiment, max_chars=max_chars)
        holder = cls(paths, analyzer, fingerprint, sentiment, max_chars=max_chars, loaded=fingerprint)
        log_ime_slips(paths)
        return holder

    @property
    def watched(self) -> list[Path]:
        return watched_files(self.paths, self.sentiment)

    def current(self) -> Analyzer:
        return self.analyzer

    def reload_if_changed(self) -> ConfigError | None:
        """Reload when the files changed; keep the old rules (and return the error) if invalid."""
        fingerprint = rules_fingerprint(self.watched)
        if fingerprint == self.fingerprint:
            return None
        with self._lock:
            self.fingerprint = fingerprint
            try:
                analyzer = load_analyzer(self.paths, sentiment=self.sentiment, max_chars=self.max_chars)
            except ConfigError as exc:
                self.last_error = str(exc)
                return exc
            self.analyzer, self.loaded = analyzer, fingerprint
            self.last_error = None
            log.info("rules_reloaded", paths=[str(p) for p in self.paths])
            log_ime_slips(self.paths)
            return None


class Runtime:
    def __init__(self, config: AppConfig, *, db: Database | None = None, metrics: Metrics | None = None) -> None:
        self.config = config
        self.metrics = metrics if metrics is not None else Metrics()  # the daemon passes its own, kept across reloads
        self.db = db or Database(config.database_url)
        workers = config.analysis.workers or default_workers()
        self.pool = AnalysisPool(workers) if workers > 1 else None
        self.rules = RulesHolder.load(
            config.rules.paths,
            config.rules.sentiment.settings() if config.rules.sentiment else None,
            max_chars=config.analysis.max_chars,
        )
        self.connectors: dict[str, Connector[Any]] = {
            s.name: build_connector(s) for s in config.sources if s.enabled
        }
        guard = TargetGuard(self.db, {t.name: t for t in config.alerts.targets}, self._sender_rejected)
        self.senders = guard_senders(build_senders(config.alerts.targets), guard)
        self.stories = build_stories(config)
        self.problems = OperatorProblems(self.db, self.targets, lambda: self.stories.routes)
        self.links = link_signer(config) if config.alerts.ack.enabled else None
        self.outbox = Outbox(
            self.db,
            self.senders,
            config.alerts,
            instance=config.instance.id,
            links=self.links,
            reaches=self._reaches,
            metrics=self.metrics,
        )

    def context(self) -> PipelineContext:
        """The pipeline context for the next batch (the current rules)."""
        return build_context(
            self.config, self.db, self.rules.current(), stories=self.stories, pool=self.pool, metrics=self.metrics
        )

    def targets(self) -> list[TargetConfig]:
        return [t for t in self.config.alerts.targets if t.enabled]

    def _reaches(self) -> dict[str, list[str]]:
        """On-call person id -> the targets that reach that person (for personal ack links)."""
        oncall = self.stories.oncall
        return {pid: list(p.targets) for pid, p in oncall.people.items()} if oncall is not None else {}

    def _sender_rejected(self, name: str, detail: str) -> None:
        self.problems.report(
            f"sender-auth:{name}",
            f"告警目标 {name} 拒绝了凭据，已停用 Alert target {name} rejected our credentials and is disabled",
            [detail],
            hint=f"修正配置后 SIGHUP 重新加载，或 Fix it, then reload (SIGHUP) or run: yuqing alerts enable {name}",
        )

    def reconcile_targets(self) -> list[str]:
        """At start and after a reload: a disabled target whose configuration changed is enabled
        again (its failed alerts re-queued) and its ``sender-auth`` problem fixed."""
        from monitor.alerts.target_state import changed_since_disabled, enable

        names = changed_since_disabled(self.db, self.targets())
        for name in names:
            enable(self.db, name)
            self.problems.fixed(f"sender-auth:{name}")
            log.info("target_enabled", target=name, why="configuration changed")
        return names

    def operator_alert(self, dedupe_key: str, text: str) -> None:
        enqueue_operator_alert(self.db, dedupe_key, text, self.targets(), routes=self.stories.routes)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        for connector in self.connectors.values():
            connector.close()
        for sender in self.senders.values():
            sender.close()
