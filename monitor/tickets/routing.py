"""Routing rules (``tickets.routing``): department and assignee for a new ticket.

Rules are tried in order; the first whose every given condition holds wins. Conditions: ``type``,
``category``, ``channel`` (lists: the ticket's value is one of them) and ``keywords`` (any one
occurs in the title or content, case-insensitive). A rule sets ``department`` and/or ``assignee``;
the change is an audit event by actor ``routing`` (a machine, so the triage clock keeps running).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from monitor.storage.models import Ticket, TicketEvent, utcnow


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoutingRule(_Model):
    name: str = ""
    type: list[str] = Field(default_factory=list)
    category: list[str] = Field(default_factory=list)
    channel: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    department: str | None = None
    assignee: str | None = None

    @model_validator(mode="after")
    def _sets_something(self) -> RoutingRule:
        if not self.department and not self.assignee:
            raise ValueError("a routing rule sets department and/or assignee")
        return self

    def matches(self, ticket: Ticket) -> bool:
        checks = ((self.type, ticket.feedback_type), (self.category, ticket.category), (self.channel, ticket.channel))
        if any(wanted and value not in wanted for wanted, value in checks):
            return False
        if not self.keywords:
            return True
        text = f"{ticket.title}\n{ticket.content or ''}".casefold()
        return any(word.casefold() in text for word in self.keywords)



def route(rules: Sequence[RoutingRule], ticket: Ticket) -> RoutingRule | None:
    return next((rule for rule in rules if rule.matches(ticket)), None)


def apply_routing(
    session: Session, tickets: Sequence[Ticket], rules: Sequence[RoutingRule], *, now: datetime | None = None
) -> int:
    """Route new tickets (call once, right after creation); returns how many were routed."""
    routed = 0
    now = now or utcnow()
    for ticket in tickets:
        rule = route(rules, ticket)
        if rule is None:
            continue
        routed += 1
        for name in ("department", "assignee"):
            value = getattr(rule, name)
            if value and value != getattr(ticket, name):
                session.add(
                    TicketEvent(
                        ticket_id=ticket.id,
                        kind="field",
                        old_value=getattr(ticket, name),
                        new_value=f"{name}={value}",
                        actor="routing",
                        note=f"路由规则 routing rule {rule.name or routed}",
                        at=now,
                    )
                )
                setattr(ticket, name, value)
    return routed
