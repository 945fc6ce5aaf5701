"""Configuration: one YAML file validated into typed, immutable models.

Every error is reported at once with file, line and key path
(``config.yaml:14 sources[2].imap.port: Input should be less than or equal to 65535``).
Connector and sender sections are validated by the plugin's own ``Config`` model, looked up by
``kind``; only configured plugins are imported.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from connectors.base import ConnectorConfig
from connectors.registry import REGISTRY as CONNECTORS
from connectors.registry import connector_class
from monitor.analysis.schema import SentimentSettings
from monitor.errors import ConfigError, ConfigIssue
from monitor.feedback.settings import FeedbackConfig
from monitor.intake.settings import IntakeConfig
from monitor.plugin import ConfigPath
from monitor.reports.settings import BackupsConfig, ReportsConfig
from monitor.sla.settings import CalendarsConfig, SlaConfig
from monitor.stories.routes import RouteConfig
from monitor.targets import NAME_PATTERN, TargetConfig
from monitor.tickets.incident_settings import IncidentsConfig
from monitor.tickets.thread_settings import TicketsConfig
from monitor.yamlsource import YamlDocument, load_yaml


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseConfig(_Model):
    url: str | None = None
    """SQLAlchemy URL; default ``sqlite:///<state_dir>/yuqing.db``."""


class LoggingConfig(_Model):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class SentimentConfig(_Model):
    """Which sentiment method scores messages; a user-trained model/lexicon may replace the shipped one."""

    method: Literal["hybrid", "model", "lexicon"] = "hybrid"
    lexicon_weight: float = Field(1.5, ge=0.0, le=10.0)
    model: ConfigPath | None = None  # from `yuqing sentiment train --data labelled.csv`
    lexicon: ConfigPath | None = None  # domain lexicon YAML (docs/sentiment.md)
    negative_below: float = Field(-0.2, ge=-1.0, le=1.0)
    positive_above: float = Field(0.2, ge=-1.0, le=1.0)

    def settings(self) -> SentimentSettings:
        return SentimentSettings(
            method=self.method,
            lexicon_weight=self.lexicon_weight,
            model=str(self.model) if self.model else None,
            lexicon=str(self.lexicon) if self.lexicon else None,
            negative_below=self.negative_below,
            positive_above=self.positive_above,
        )


class RulesConfig(_Model):
    paths: list[ConfigPath] = Field(default_factory=lambda: [Path("rules")])
    watch_seconds: float = Field(5.0, ge=0.5)
    sentiment: SentimentConfig | None = None  # None: the shipped default (or a rule set's own setting)


class AnalysisConfig(_Model):
    workers: int | None = Field(None, ge=1, le=64)
    """Analysis worker processes; None: one per core; 1: analyse in the daemon's own process."""
    max_chars: int = Field(20_000, ge=1_000)
    """Characters of a message segmented and scored in full; keywords are still found beyond."""


class SchedulerConfig(_Model):
    jitter_seconds: float = Field(1.0, ge=0)
    misfire_grace_seconds: int = Field(60, ge=1)
    outbox_interval_seconds: float = Field(1.0, gt=0)
    shutdown_timeout_seconds: float = Field(8.0, gt=0, le=60)
    heartbeat_seconds: float = Field(5.0, gt=0)
    """How often the scheduler's heartbeat job runs: ``/healthz`` progress and the heartbeat URL."""
    ready_slack_seconds: float = Field(30.0, ge=0)
    """``/readyz``: a source is late when its last good poll is older than 2 intervals + this."""
    watch_seconds: float = Field(30.0, gt=0)
    """How often silent sources and a stuck outbox are looked for (``monitor.watching``)."""
    heartbeat_url: SecretStr | None = None
    """Dead-man's switch (e.g. a Healthchecks check URL), POSTed while the scheduler makes progress."""
    heartbeat_url_seconds: float = Field(60.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _removed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "housekeeping_interval_seconds" in data:
            raise ValueError(
                "housekeeping_interval_seconds was never used and is removed: delete it "
                "(story timers run every alerts.escalation_interval_seconds)"
            )
        return data


class SourceConfig(_Model):
    """A configured source: common scheduling keys plus the connector's own section."""

    name: str = Field(pattern=NAME_PATTERN)
    kind: str
    enabled: bool = True
    interval_seconds: float = Field(60.0, ge=0.5)
    batch_size: int = Field(500, ge=1, le=100_000)
    stuck_alert_intervals: int = Field(5, ge=1)
    """A source failing for longer than ``interval_seconds`` x this raises one operator alert."""
    auth_retry_max_seconds: float | None = Field(None, gt=0)
    """A source whose credentials were rejected is re-probed with backoff from a quarter interval
    up to this (default one interval, so a fixed password is seen within two intervals)."""
    expect_messages_within: float | None = Field(None, gt=0)
    """Seconds: no new message for longer than this is an operator problem (``source-silent``)."""
    settings: Any = None  # the connector's Config instance (validated separately)


class AckServerConfig(_Model):
    """The acknowledge-link endpoint (signed, expiring links in every incident alert)."""

    enabled: bool = False
    listen: str = "127.0.0.1"
    port: int = Field(8787, ge=0, le=65535)
    public_url: str | None = None
    """Base URL staff reach the endpoint at (default ``http://<listen>:<port>``)."""
    secret: SecretStr | None = None
    """HMAC key for links; default: a random key kept in ``<state_dir>/ack.key``."""
    link_ttl_hours: float = Field(72.0, gt=0)


class HttpConfig(_Model):
    """The daemon's one HTTP application (ack links, feedback intake, health); ``docs/intake.zh.md``."""

    enabled: bool = False
    """Serve even when neither ack links nor intake need it (health endpoints)."""
    listen: str = "127.0.0.1"
    port: int = Field(8787, ge=0, le=65535)
    trusted_proxies: list[str] = Field(default_factory=list)
    """Addresses of reverse proxies whose X-Forwarded-For/-Proto headers are believed; none by default."""
    max_body_mb: float = Field(30.0, gt=0, le=1024)
    """Largest request body accepted (413 beyond); intake's own per-file/per-message caps are smaller."""
    front_process: Literal["auto", "on", "off"] = "auto"
    """Serve HTTP from a child process of its own (``monitor.http.front``): ``auto`` does when
    intake is enabled (at 200 submissions/s the in-process server's p99 is several times higher)."""


class AlertsConfig(_Model):
    targets: list[TargetConfig] = Field(default_factory=list)
    route: RouteConfig | None = None
    """The route tree every notice goes through (docs/alerts.zh.md). Without it: every target,
    or the on-call file's own routes, notified at once (the behaviour before routes existed)."""
    oncall: ConfigPath | None = None
    """On-call file (people, teams, rotations, escalation chains) that routes name with ``oncall:``."""
    ack: AckServerConfig = AckServerConfig()
    escalation_interval_seconds: float = Field(5.0, gt=0)
    """How often story timers are checked: group_wait, group_interval updates, escalation steps."""
    max_attempts: int = Field(10, ge=1)
    retry_base_seconds: float = Field(5.0, gt=0)
    retry_max_seconds: float = Field(900.0, gt=0)
    outbox_stuck_seconds: float = Field(900.0, gt=0)
    """A pending notification older than this is the ``outbox-stuck`` operator problem."""


class InstanceConfig(_Model):
    """This daemon among several sharing one database (docs/scaling.md).

    ``id`` must differ between instances that run at the same time; a restarted instance keeps
    its id and takes its own leases back at once. Source leases expire ``lease_seconds`` after
    the holder's last renewal: an instance that dies loses them then, and another takes over.
    """

    id: str = Field("yuqing", pattern=NAME_PATTERN)
    lease_seconds: float = Field(30.0, ge=2.0, le=3600.0)


class AppConfig(_Model):
    instance: InstanceConfig = InstanceConfig()
    state_dir: ConfigPath = Path("var")
    database: DatabaseConfig = DatabaseConfig()
    logging: LoggingConfig = LoggingConfig()
    rules: RulesConfig = RulesConfig()
    analysis: AnalysisConfig = AnalysisConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    sources: list[SourceConfig] = Field(default_factory=list)
    alerts: AlertsConfig = AlertsConfig()
    incidents: IncidentsConfig = IncidentsConfig()
    tickets: TicketsConfig = TicketsConfig()
    sla: SlaConfig = SlaConfig()
    calendars: CalendarsConfig = CalendarsConfig()
    reports: ReportsConfig = ReportsConfig()
    backups: BackupsConfig = BackupsConfig()
    feedback: FeedbackConfig = FeedbackConfig()
    http: HttpConfig | None = None
    """Where the HTTP application listens; default: ``alerts.ack.listen``/``port`` (older files)."""
    intake: IntakeConfig = IntakeConfig()
    source_file: str = ""

    @model_validator(mode="before")
    @classmethod
    def _instance_name(cls, data: Any) -> Any:
        """``instance: <name>`` (the form before leases) still means ``instance: {id: <name>}``."""
        if isinstance(data, dict) and isinstance(data.get("instance"), str):
            data = {**data, "instance": {"id": data["instance"]}}
        return data

    @model_validator(mode="after")
    def _unique_names(self) -> AppConfig:
        for label, names in (
            ("sources", [s.name for s in self.sources]),
            ("alerts.targets", [t.name for t in self.alerts.targets]),
        ):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{label}: duplicate names {', '.join(dupes)}")
        from monitor.sla.validate import check_profiles

        check_profiles(self.sla, self.calendars)
        emails = {t.name for t in self.alerts.targets if t.kind == "email"}
        for key, name in (
            ("feedback.satisfaction.mail_target", self.feedback.satisfaction.mail_target),
            ("feedback.surveys.mail_target", self.feedback.surveys.mail_target),
        ):
            if name is not None and name not in emails:
                raise ValueError(f"{key}: {name!r} is not an alerts target of kind email (known: {', '.join(sorted(emails)) or 'none'})")
        return self

    @model_validator(mode="after")
    def _report_sender(self) -> AppConfig:
        monthly = self.reports.monthly
        emails = [t.name for t in self.alerts.targets if t.kind == "email"]
        if monthly.enabled and (not emails or (monthly.sender_target and monthly.sender_target not in emails)):
            raise ValueError("reports.monthly: needs an email alert target (alerts.targets[].kind: email) to send from")
        return self

    @property
    def http_settings(self) -> HttpConfig:
        if self.http is not None:
            return self.http
        return HttpConfig(listen=self.alerts.ack.listen, port=self.alerts.ack.port)

    @property
    def http_front_process(self) -> bool:
        """Whether the HTTP application is served by a front process (``http.front_process``)."""
        setting = self.http_settings.front_process
        return setting == "on" or (setting == "auto" and self.intake.enabled)

    @property
    def serves_http(self) -> bool:
        """The HTTP application runs when something needs it (ack links, intake, or ``http.enabled``)."""
        return self.alerts.ack.enabled or self.intake.enabled or (self.http is not None and self.http.enabled)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.state_dir / 'yuqing.db'}"


def _plugin_sections(
    doc: YamlDocument,
    entries: Any,
    loc: tuple[str | int, ...],
    common: set[str],
    lookup: Callable[[str], type[BaseModel]],
    known: list[str],
    context: dict[str, Any],
) -> list[ConfigIssue]:
    """Validate each entry's ``<kind>:`` section with its plugin model; store it as ``settings``."""
    issues: list[ConfigIssue] = []
    if not isinstance(entries, list):
        return issues  # the main model reports the type error
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        kind = entry.get("kind")
        here = (*loc, index)
        if not isinstance(kind, str) or kind not in known:
            issues.append(
                doc.issue((*here, "kind"), f"unknown kind {kind!r}; known: {', '.join(sorted(known))}")
            )
            continue
        for key in sorted(set(entry) - common - {kind}):
            issues.append(doc.issue((*here, key), f"unknown key (a {kind} section goes under '{kind}:')"))
        section = entry.pop(kind, None)
        try:
            entry["settings"] = lookup(kind).model_validate(section or {}, context=context)
        except ValidationError as exc:
            issues.extend(doc.issue((*here, kind, *err["loc"]), err["msg"]) for err in exc.errors())
            entry["settings"] = None
        for key in set(entry) - common - {"settings"}:
            entry.pop(key)
    return issues


def _connector_config(kind: str) -> type[ConnectorConfig]:
    return connector_class(kind).Config


def parse_config(doc: YamlDocument) -> AppConfig:
    """Validate a loaded document; raise ConfigError with every issue."""
    from monitor.alerts.senders.registry import REGISTRY as SENDERS
    from monitor.alerts.senders.registry import sender_config

    issues = list(doc.issues)
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(doc.file, 1, "", "the configuration must be a mapping")])
    data = dict(data)
    context = {"base_dir": str(Path(doc.file).resolve().parent)}
    source_keys = set(SourceConfig.model_fields) - {"settings"}
    target_keys = set(TargetConfig.model_fields) - {"settings"}
    sources = [dict(s) if isinstance(s, dict) else s for s in data.get("sources") or []]
    issues += _plugin_sections(
        doc, sources, ("sources",), source_keys, _connector_config, list(CONNECTORS), context
    )
    if sources:
        data["sources"] = sources
    alerts = data.get("alerts")
    if isinstance(alerts, dict) and isinstance(alerts.get("targets"), list):
        alerts = dict(alerts)
        targets = [dict(t) if isinstance(t, dict) else t for t in alerts["targets"]]
        issues += _plugin_sections(
            doc, targets, ("alerts", "targets"), target_keys, sender_config, list(SENDERS), context
        )
        alerts["targets"] = targets
        data["alerts"] = alerts
    data["source_file"] = doc.file
    try:
        config = AppConfig.model_validate(data, context=context)
    except ValidationError as exc:
        issues += [
            doc.issue(err["loc"], err["msg"]) for err in exc.errors() if err["loc"][-1:] != ("settings",)
        ]
        raise ConfigError(_sorted(issues)) from None
    if issues:
        raise ConfigError(_sorted(issues))
    return config


def _sorted(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    return sorted(issues, key=lambda i: (i.file, i.line or 0, i.path))


def load_config(path: Path, *, env: dict[str, str] | None = None) -> AppConfig:
    """Load and validate a configuration file (raises ConfigError listing every problem)."""
    doc = load_yaml(path, env=env)
    if doc.unreadable:
        raise ConfigError(doc.issues)
    return parse_config(doc)
