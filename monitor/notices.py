"""Typed notices: what a story (or the operator channel) tells people, one model per kind.

A leaf module: the lifecycle owner (``monitor.stories``) builds these, the outbox stores them as
the alert row's payload (``model_dump``), and the renderers (``monitor.alerts.render``) parse
them back with :func:`parse_notice` - nobody passes untyped dicts around.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from monitor.findings import Priority

NoticeKind = Literal[
    "ticket", "incident", "update", "acknowledged", "resolved", "review", "operator", "digest", "overflow", "sla"
]
ROUTED_KINDS = ("ticket", "incident", "review", "operator", "sla")
"""Kinds that go through the route tree; the others go to whoever was already told."""


class _Notice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    priority: Priority | None = None
    title: str = ""
    story: str | None = None
    """The story's code (``INC-3`` or ``Q000042``) - what people acknowledge."""
    step: str = ""


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    mention: str = ""
    # Links signed for this person, added at delivery (never stored: the rows keep the notice as
    # it was decided); acting on them records the person.
    ack_url: str | None = Field(default=None, exclude=True)
    resolve_url: str | None = Field(default=None, exclude=True)


class Excerpt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: int | None = None
    excerpt: str
    url: str | None = None
    author: str = ""
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    created_at: str = ""


class _Page(_Notice):
    recipients: list[Person] = Field(default_factory=list)
    ack_command: str = ""
    resolve_command: str = ""
    ack_url: str | None = None
    resolve_url: str | None = None


class TicketPage(_Page):
    """First page (or a raise / repeat) of a story made of tickets in no incident."""

    kind: Literal["ticket"] = "ticket"
    reason: str = ""
    ticket: str = ""
    status: str = ""
    source: str = ""
    channel: str = ""
    excerpt: str = ""
    author: str = ""
    url: str | None = None
    message_id: int | None = None
    external_id: str = ""
    created_at: str = ""
    rules: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    type: str | None = None
    category: str | None = None
    tags: list[str] = Field(default_factory=list)
    tickets: int = 1
    messages: int = 1


class IncidentPage(_Page):
    """First page (or escalation step, raise, repeat) of an incident."""

    kind: Literal["incident"] = "incident"
    incident: str = ""
    state: str = "open"
    reason: str = ""
    team: str | None = None
    messages: int = 0
    sources: list[str] = Field(default_factory=list)
    heat: float = 0.0
    reach: int = 0
    first_seen: str = ""
    last_seen: str = ""
    top: list[Excerpt] = Field(default_factory=list)


class StoryUpdate(_Notice):
    """Later messages of a story, folded into one update per ``group_interval``."""

    kind: Literal["update"] = "update"
    new_messages: int = 0
    messages: int = 0
    top: list[Excerpt] = Field(default_factory=list)
    ack_command: str = ""


class Acknowledged(_Notice):
    kind: Literal["acknowledged"] = "acknowledged"
    acknowledged_by: str | None = None
    note: str | None = None
    resolve_command: str = ""
    resolve_url: str | None = None


class Resolved(_Notice):
    kind: Literal["resolved"] = "resolved"
    resolved_by: str | None = None
    note: str | None = None


class ReviewNeeded(_Notice):
    """A held L1/L2 message waits for a person (``yuqing review approve|reject``)."""

    kind: Literal["review"] = "review"
    message_id: int | None = None
    source: str = ""
    excerpt: str = ""
    rules: list[str] = Field(default_factory=list)
    approve_command: str = ""


class OperatorNotice(_Notice):
    """Something the operator must fix (rules invalid, a source or sender disabled), fixed, or a
    test message (``alerts test``). ``problem`` is the operator problem's key (``rules:<file>``,
    ``source-auth:<source>``, ``sender-auth:<target>``, ``source-path:<source>`` ...); ``errors``
    are all its current errors (the renderers list the first 30 and count the rest)."""

    kind: Literal["operator"] = "operator"
    excerpt: str = ""
    errors: list[str] = Field(default_factory=list)
    problem: str = ""
    state: Literal["open", "fixed", "test"] = "open"
    since: str | None = None
    """When the problem opened (ISO 8601, UTC)."""
    hint: str = ""


class SlaAlert(_Page):
    """An SLA clock of a ticket crossed its warning threshold (``warning``: to the ticket's route)
    or its target (``breach``: paged along the on-call chain as its own story ``S<id>``)."""

    kind: Literal["sla"] = "sla"
    level: Literal["warning", "breach"] = "warning"
    ticket: str = ""
    status: str = ""
    channel: str = ""
    clock: str = ""
    clock_label: str = ""
    profile: str = ""
    target_minutes: float = 0.0
    elapsed_minutes: float = 0.0
    percent: float = 0.0
    due_at: str | None = None
    """When the clock is (was) due, ISO 8601 UTC."""
    department: str | None = None
    assignee: str | None = None
    show_command: str = ""


class SummaryItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    alert: int
    kind: str
    step: str | None = None
    priority: str | None = None
    ref: str
    title: str = ""
    url: str | None = None
    created_at: str = ""


class Summary(_Notice):
    """Alerts a target's noise control held back (quiet hours digest, hourly-cap overflow)."""

    kind: Literal["digest", "overflow"]
    excerpt: str = ""
    count: int = 0
    suppressed: int = 0
    items: list[SummaryItem] = Field(default_factory=list)
    more: int = 0
    since: str | None = None


Notice = Annotated[
    TicketPage
    | IncidentPage
    | StoryUpdate
    | Acknowledged
    | Resolved
    | ReviewNeeded
    | OperatorNotice
    | SlaAlert
    | Summary,
    Field(discriminator="kind"),
]
_ADAPTER: TypeAdapter[Notice] = TypeAdapter(Notice)


def parse_notice(payload: dict[str, Any]) -> Notice:
    """The typed notice stored in an alert row (delivery keys ``id``, ``target`` ... ignored)."""
    data = {k: v for k, v in payload.items() if k not in DELIVERY_KEYS}
    return _ADAPTER.validate_python(data)


DELIVERY_KEYS = frozenset({"id", "target", "idempotency_key"})
"""Keys the outbox adds to a notice when it hands it to a sender."""
