"""Tables. Every change of schema goes through an Alembic migration in ``migrations/versions``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and returns them aware (SQLite and MariaDB drop the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored")
        return value.astimezone(UTC).replace(tzinfo=None) if dialect.name != "postgresql" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Long text: TEXT is 64 KiB on MariaDB; use the widest type there.
LongText = Text().with_variant(Text(length=2**32 - 1), "mysql", "mariadb")
LongBlob = LargeBinary().with_variant(LargeBinary(length=2**32 - 1), "mysql", "mariadb")
BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrement needs INTEGER


class Base(DeclarativeBase):
    pass


class Source(Base):
    """A configured source and its checkpoint (the checkpoint moves with the data it covers)."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    checkpoint: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    checkpoint_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("source_id", "thread_key", name="uq_ticket_thread"),
        Index("ix_tickets_status", "status"),
        Index("ix_tickets_created", "created_at", "status", "priority", "channel", "feedback_type", "category"),  # reports (0010)
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str | None] = mapped_column(String(16), unique=True, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="received")
    priority: Mapped[str | None] = mapped_column(String(4), nullable=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    channel: Mapped[str] = mapped_column(String(32), default="")
    thread_key: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255), default="")
    feedback_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # the feedback policy's record (migration 0007); customer contact is never logged or paged
    source_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    customer_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    customer_handle: Mapped[str | None] = mapped_column(String(255), nullable=True)
    customer_contact: Mapped[str | None] = mapped_column(String(255), nullable=True)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    content: Mapped[str | None] = mapped_column(LongText, nullable=True)
    department: Mapped[str | None] = mapped_column(String(64), nullable=True)
    assignee: Mapped[str | None] = mapped_column(String(128), nullable=True)
    incident_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    tags: Mapped[list[str] | None] = mapped_column(JSON, nullable=True, default=list)
    complex: Mapped[bool] = mapped_column(Boolean, default=False)

    source: Mapped[Source] = relationship()
    events: Mapped[list[TicketEvent]] = relationship(back_populates="ticket", order_by="TicketEvent.id")


class StoredMessage(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id", name="uq_message_source_external"),
        Index("ix_messages_ticket", "ticket_id"),
        Index("ix_messages_created", "created_at"),
        Index("ix_messages_cluster", "cluster_id", "created_at"),
        Index("ix_messages_incident", "incident_id"),
        Index("ix_messages_review", "review_status"),
        # threading (migration 0006): replies find their parent by its id, a thread's messages by
        # key, a subject-only reply the same author's conversation by topic
        Index("ix_messages_ref", "ref_id"),
        Index("ix_messages_thread", "source_id", "thread_key"),
        Index("ix_messages_topic", "source_id", "topic", "author_id"),
        # reposts find the post they quote by its words (migration 0010, connectors.reposts)
        Index("ix_messages_text_key", "text_key"),
        Index("ix_messages_root_key", "root_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    external_id: Mapped[str] = mapped_column(String(255))
    thread_key: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(32), default="")
    author_id: Mapped[str] = mapped_column(String(255), default="")
    author_name: Mapped[str] = mapped_column(String(255), default="")
    author_followers: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    title: Mapped[str] = mapped_column(String(1024), default="")
    text: Mapped[str] = mapped_column(LongText)
    html: Mapped[str | None] = mapped_column(LongText, nullable=True)
    url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    likes: Mapped[int] = mapped_column(BigInteger, default=0)
    reposts: Mapped[int] = mapped_column(BigInteger, default=0)
    replies: Mapped[int] = mapped_column(BigInteger, default=0)
    raw_ref: Mapped[str] = mapped_column(String(1024), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    priority: Mapped[str | None] = mapped_column(String(4), nullable=True)
    analysis: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True)
    # incidents (migration 0002): near-duplicate cluster, incident, review queue state
    cluster_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    incident_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    review_status: Mapped[str | None] = mapped_column(String(16), nullable=True)  # pending/approved/rejected
    # threading (migration 0006): see Message.ref_id / Message.topic
    ref_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    topic: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # digest of the normalised text (connectors.reposts.text_key), None for short or long texts
    text_key: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # a repost chain's original (connectors.reposts.root_key): an original stored later finds it
    root_key: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # what was repaired on the way in (migration 0005): comma-separated Message.flags, "" when clean
    flags: Mapped[str] = mapped_column(String(255), default="", server_default="")

    source: Mapped[Source] = relationship()


class SourceHealthRow(Base):
    """How a source's polls are going (migration 0012): written by the daemon after its polls,
    read by ``yuqing status`` and by a daemon starting or taking the source over. Keyed by name: a source that never stored a message has no
    ``sources`` row yet but has a health."""

    __tablename__ = "source_health"

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    instance: Mapped[str] = mapped_column(String(128))
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_new_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # migration 0017


class QuarantineItem(Base):
    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LongBlob)
    raw_size: Mapped[int] = mapped_column(BigInteger)
    raw_ref: Mapped[str] = mapped_column(String(1024), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending/retried/discarded
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    source: Mapped[Source] = relationship()


class TicketEvent(Base):
    """Audit trail: one row per change of a ticket."""

    __tablename__ = "ticket_events"
    __table_args__ = (
        Index("ix_ticket_events_ticket", "ticket_id"),
        Index("ix_ticket_events_kind", "ticket_id", "kind", "new_value", "at"),  # reports (migration 0010)
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    # created, message, status, priority, field, note, responded
    kind: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[str | None] = mapped_column(String(255), nullable=True)
    new_value: Mapped[str | None] = mapped_column(String(255), nullable=True)
    actor: Mapped[str] = mapped_column(String(128), default="system")
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class Alert(Base):
    """The outbox: written with the finding that caused it, delivered by the sender job."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("dedupe_key", "target", name="uq_alert_dedupe_target"),
        Index("ix_alerts_status", "status", "next_attempt_at"),
        Index("ix_alerts_incident", "incident_id"),
        Index("ix_alerts_story", "story_id"),
        Index("ix_alerts_target_sent", "target", "sent_at"),
        Index("ix_alerts_folded", "folded_into"),
        Index("ix_alerts_target_dispatched", "target", "dispatched_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(255))
    target: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))  # ticket, operator
    priority: Mapped[str | None] = mapped_column(String(4), nullable=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending/sent/failed/cancelled/folded/collecting
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    incident_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    step: Mapped[str | None] = mapped_column(String(32), nullable=True)  # page:0:0, update:2, resolved, digest ...
    story_id: Mapped[int | None] = mapped_column(BigId, nullable=True)  # migration 0004
    # noise control (migration 0003): status "folded" rows are listed in the digest/overflow row
    # ``folded_into``; a summary row is "collecting" until due. ``dispatched_at``: first handed to
    # the sender (the hourly cap counts these).
    folded_into: Mapped[int | None] = mapped_column(BigId, nullable=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Incident(Base):
    """A public-opinion incident (輿情事件): one story, many messages, one page per step."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_state", "state", "next_escalation_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str | None] = mapped_column(String(16), unique=True, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="open")  # open/acknowledged/resolved
    severity: Mapped[str] = mapped_column(String(4))
    title: Mapped[str] = mapped_column(String(255), default="")
    reason: Mapped[str] = mapped_column(String(255), default="")
    team: Mapped[str | None] = mapped_column(String(64), nullable=True)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    heat: Mapped[float] = mapped_column(Float, default=0.0)
    reach: Mapped[int] = mapped_column(BigInteger, default=0)
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    page_round: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Cluster(Base):
    """Near-duplicate messages (MinHash similarity), across sources and channels."""

    __tablename__ = "clusters"
    __table_args__ = (
        Index("ix_clusters_key0", "key0"),
        Index("ix_clusters_key1", "key1"),
        Index("ix_clusters_key2", "key2"),
        Index("ix_clusters_key3", "key3"),
        Index("ix_clusters_last_seen", "last_seen"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sketch: Mapped[list[int]] = mapped_column(JSON)  # bottom-k MinHash of the first post
    key0: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    key1: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    key2: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    key3: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    title: Mapped[str] = mapped_column(String(255), default="")
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    heat: Mapped[float] = mapped_column(Float, default=0.0)
    reach: Mapped[int] = mapped_column(BigInteger, default=0)
    priority: Mapped[str | None] = mapped_column(String(4), nullable=True)  # most urgent finding
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), nullable=True)


class IncidentEvent(Base):
    """Audit trail of an incident: opened, severity, acknowledged, escalated, resolved, silenced."""

    __tablename__ = "incident_events"
    __table_args__ = (Index("ix_incident_events_incident", "incident_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    kind: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[str | None] = mapped_column(String(255), nullable=True)
    new_value: Mapped[str | None] = mapped_column(String(255), nullable=True)
    actor: Mapped[str] = mapped_column(String(128), default="system")
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Silence(Base):
    """Mute alerts matching rule/tag/source/text until ``expires_at`` (rows, not memory)."""

    __tablename__ = "silences"
    __table_args__ = (Index("ix_silences_expires", "expires_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    matcher: Mapped[str] = mapped_column(String(16))  # rule, tag, source, text
    value: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128), default="cli")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Lock(Base):
    """Named row locks (SELECT ... FOR UPDATE) that serialise a step across writers."""

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)


class StoryTicket(Base):
    """A ticket that belongs to a story (migration 0019): one row each, so a story that grows by a
    ticket writes one row - not its whole list again, as the JSON column it replaces did, which
    made every batch of a large incident cost more than the last (``monitor.stories.members``)."""

    __tablename__ = "story_tickets"
    __table_args__ = (Index("ix_story_tickets_ticket", "ticket_id"),)

    story_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    ticket_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)


class Lease(Base):
    """A named lease with expiry (``monitor.leases``): ``source:<name>``, ``leader``, ``instance:<id>``.

    ``epoch`` grows by one on every acquisition: it is the fencing token a writer checks in its
    own transaction, so an instance that lost the lease cannot commit (migration 0010).
    """

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(160), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(64), nullable=True)
    epoch: Mapped[int] = mapped_column(BigId, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertTarget(Base):
    """One row per alert target with noise control: locked while its alerts are shaped."""

    __tablename__ = "alert_targets"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)


class TargetState(Base):
    """A target switched off because its receiver rejected our credentials (migration 0004).

    A row means disabled; ``alerts enable`` or a changed configuration of the target (its
    ``fingerprint`` differs) deletes it. Stored, not in memory: a restart or another instance
    sharing the database sees it.
    """

    __tablename__ = "target_states"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    first_alert_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    disabled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OperatorProblem(Base):
    """One distinct problem the operator must fix (``rules:<file>``, ``sender-auth:<target>`` ...)
    with every error it currently has; ``revision`` counts its notices (migration 0004)."""

    __tablename__ = "operator_problems"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="open")  # open/fixed
    title: Mapped[str] = mapped_column(Text, default="")
    errors: Mapped[list[str]] = mapped_column(JSON, default=list)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    fixed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Story(Base):
    """One story (an incident, or a ticket group that belongs to no incident): who was told what.

    Group timers are columns (``notify_at``, ``next_escalation_at``), so a restart or a second
    instance sees the same state (migration 0004, ``monitor.stories``).
    """

    __tablename__ = "stories"
    __table_args__ = (
        Index("ix_stories_notify", "notify_at"),
        Index("ix_stories_escalation", "state", "next_escalation_at"),
        Index("ix_stories_cluster", "cluster_id", "state"),
        Index("ix_stories_incident", "incident_id"),
        Index("ix_stories_ticket", "ticket_id", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # incident / ticket / review / operator
    state: Mapped[str] = mapped_column(String(16), default="open")  # open/acknowledged/resolved
    severity: Mapped[str | None] = mapped_column(String(4), nullable=True)
    title: Mapped[str] = mapped_column(String(255), default="")
    cluster_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    incident_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    ticket_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    message_id: Mapped[int | None] = mapped_column(BigId, nullable=True)  # the message that opened it
    route: Mapped[str] = mapped_column(String(255), default="")
    receivers: Mapped[list[str]] = mapped_column(JSON, default=list)
    team: Mapped[str | None] = mapped_column(String(64), nullable=True)
    group_wait_s: Mapped[float] = mapped_column(Float, default=0.0)
    group_interval_s: Mapped[float] = mapped_column(Float, default=300.0)
    repeat_interval_s: Mapped[float] = mapped_column(Float, default=14400.0)
    subject: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # what the routes matched on
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    pending_messages: Mapped[int] = mapped_column(Integer, default=0)  # folded into the next update
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    notify_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # group timer
    paged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    notified_severity: Mapped[str | None] = mapped_column(String(4), nullable=True)
    updates: Mapped[int] = mapped_column(Integer, default=0)
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    page_round: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StoryEvent(Base):
    """Audit trail of a story: opened, paged, update, raised, escalated, acknowledged, resolved, note."""

    __tablename__ = "story_events"
    __table_args__ = (Index("ix_story_events_story", "story_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    story_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[str | None] = mapped_column(String(255), nullable=True)
    new_value: Mapped[str | None] = mapped_column(String(255), nullable=True)
    actor: Mapped[str] = mapped_column(String(128), default="system")
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarDay(Base):
    """A date that differs from the weekly pattern: public holiday or make-up working day (调休)."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # holiday | workday
    name: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(32), default="chinesecalendar")


class CalendarYear(Base):
    """A year whose holidays and make-up days are in ``calendar_days`` (others are refused)."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(32))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SlaNotice(Base):
    """Each SLA warning/breach (and calendar warning) recorded once: the unique key dedupes runs."""

    __tablename__ = "sla_notices"
    __table_args__ = (Index("ix_sla_notices_ticket", "ticket_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(191), unique=True)  # 191: utf8mb4 index limit
    kind: Mapped[str] = mapped_column(String(32))  # sla-warning, sla-breach, calendar-warning ...
    ticket_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    clock: Mapped[str | None] = mapped_column(String(32), nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    emitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
class SlaResult(Base):
    """Each ticket's SLA clocks as last computed from its event log (the monthly report reads it).

    One row per (ticket, clock): the latest cycle's target and elapsed working time; ``breached``
    stays true once any reading was over the target (migration 0013).
    """

    __tablename__ = "sla_results"
    __table_args__ = (UniqueConstraint("ticket_id", "clock", name="uq_sla_results_ticket_clock"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(BigId)
    clock: Mapped[str] = mapped_column(String(32))
    profile: Mapped[str] = mapped_column(String(64), default="")
    target_s: Mapped[int] = mapped_column(BigInteger, default=0)
    elapsed_s: Mapped[int] = mapped_column(BigInteger, default=0)
    phase: Mapped[str] = mapped_column(String(16), default="running")
    breached: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Followup(Base):
    """A message to a customer (satisfaction follow-up on resolve, survey questionnaire), written
    before it is sent; ``token`` is what the signed link and a reply's subject carry (0011)."""

    __tablename__ = "followups"
    __table_args__ = (
        Index("ix_followups_status", "status", "channel"),
        Index("ix_followups_ticket", "ticket_id", "kind"),
        Index("ix_followups_event", "event_id"),
        Index("ix_followups_campaign", "campaign", "address"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(191), unique=True)  # satisfaction:<event id>, survey:<campaign>:<address>
    token: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # satisfaction | survey
    ticket_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    event_id: Mapped[int | None] = mapped_column(BigId, nullable=True)  # the resolve event it follows
    campaign: Mapped[str | None] = mapped_column(String(32), nullable=True)
    channel: Mapped[str] = mapped_column(String(32))  # email, or the ticket's channel (template)
    address: Mapped[str | None] = mapped_column(String(255), nullable=True)
    subject: Mapped[str] = mapped_column(String(255), default="")
    body: Mapped[str] = mapped_column(LongText)
    message_id: Mapped[str] = mapped_column(String(255), default="")
    in_reply_to: Mapped[str | None] = mapped_column(String(255), nullable=True)
    refs: Mapped[str | None] = mapped_column(Text, nullable=True)  # the References header
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending/sent/failed/ready/skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Satisfaction(Base):
    """A customer's satisfaction answer for a resolved ticket (满意/一般/不满意), from a reply or the link."""

    __tablename__ = "satisfaction"
    __table_args__ = (Index("ix_satisfaction_ticket", "ticket_id"), Index("ix_satisfaction_at", "at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(BigId)
    score: Mapped[str] = mapped_column(String(16))  # satisfied | neutral | dissatisfied
    answer: Mapped[str] = mapped_column(String(8))  # 满意 | 一般 | 不满意
    channel: Mapped[str] = mapped_column(String(32))  # email, link, chat ...
    followup_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    message_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    raw: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SurveyAnswer(Base):
    """An answer to a survey campaign: the scale, free text, where it came from, its ticket if negative."""

    __tablename__ = "survey_answers"
    __table_args__ = (Index("ix_survey_answers_campaign", "campaign", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign: Mapped[str] = mapped_column(String(32))
    followup_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    address: Mapped[str | None] = mapped_column(String(255), nullable=True)
    score: Mapped[str] = mapped_column(String(16))  # satisfied | neutral | dissatisfied
    answer: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    message_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    raw: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OptOut(Base):
    """An address that asked not to be surveyed again (reply 退订/unsubscribe, or the link)."""

    __tablename__ = "opt_outs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(191), unique=True)
    channel: Mapped[str] = mapped_column(String(32))  # reply | link | csv
    campaign: Mapped[str | None] = mapped_column(String(32), nullable=True)
    raw: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReportRun(Base):
    """A periodic report that was mailed (migration 0010): the scheduled job sends a period once."""

    __tablename__ = "report_runs"
    __table_args__ = (UniqueConstraint("kind", "period", name="uq_report_runs_kind_period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))  # monthly
    period: Mapped[str] = mapped_column(String(16))  # 2026-10
    status: Mapped[str] = mapped_column(String(16))  # sending/sent/failed
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Problem(Base):
    """A known problem and its resolution (knowledge base, migration 0011)."""

    __tablename__ = "problems"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(255))
    resolution: Mapped[str] = mapped_column(LongText)
    tags: Mapped[list[str] | None] = mapped_column(JSON, nullable=True, default=list)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketProblem(Base):
    """A resolved ticket linked to a problem record."""

    __tablename__ = "ticket_problems"
    __table_args__ = (Index("ix_ticket_problems_problem", "problem_id"),)

    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id"), primary_key=True)
    problem_id: Mapped[int] = mapped_column(BigId, ForeignKey("problems.id"), primary_key=True)
    linked_by: Mapped[str] = mapped_column(String(128))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KbDoc(Base):
    """A resolved ticket in the search index: its length in tokens (BM25's document length)."""

    __tablename__ = "kb_docs"

    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id"), primary_key=True)
    length: Mapped[int] = mapped_column(Integer)
    indexed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KbTerm(Base):
    """One term of an indexed ticket with its frequency (the posting list is ``term``'s rows)."""

    __tablename__ = "kb_terms"
    __table_args__ = (Index("ix_kb_terms_ticket", "ticket_id"),)

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id"), primary_key=True)
    tf: Mapped[int] = mapped_column(Integer)
class IntakeKey(Base):
    """An API key of a website or app back end (``yuqing intake keys``): only its SHA-256 is kept."""

    __tablename__ = "intake_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(16))  # web / app
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists, never enough to use the key
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class IntakeSubmission(Base):
    """One piece of feedback handed in directly (API, hosted form, staff, feedback box).

    Written in the same transaction as its message and ticket; ``(client, idempotency_key)``
    makes a retried request find its first answer.
    """

    __tablename__ = "intake_submissions"
    __table_args__ = (
        UniqueConstraint("client", "idempotency_key", name="uq_intake_idempotency"),
        Index("ix_intake_ticket", "ticket_code"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(80))  # key:<id>, form, staff:<actor>, box:<store>
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), nullable=True)
    ticket_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    channel: Mapped[str] = mapped_column(String(32))
    feedback_type: Mapped[str] = mapped_column(String(32))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    app_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    device: Mapped[str | None] = mapped_column(String(128), nullable=True)
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)
    store: Mapped[str | None] = mapped_column(String(64), nullable=True)
    box: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IntakeAttachment(Base):
    """A file sent with a submission, stored under ``<state_dir>/attachments`` by content hash."""

    __tablename__ = "intake_attachments"
    __table_args__ = (Index("ix_intake_attachments_message", "message_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("intake_submissions.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(255))  # sanitised; never used as a path
    media_type: Mapped[str] = mapped_column(String(64))  # from the content, not the name
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
