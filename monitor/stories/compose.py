"""Typed notices for a story, from its rows (ticket, incident, messages)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.findings import most_urgent
from monitor.notices import (
    Acknowledged,
    Excerpt,
    IncidentPage,
    Person,
    Resolved,
    SlaAlert,
    StoryUpdate,
    TicketPage,
)
from monitor.storage.models import Incident, Source, StoredMessage, Story, Ticket
from monitor.stories import members

EXCERPT_CHARS = 280
TOP_CHARS = 200


def story_code(session: Session, story: Story) -> str:
    """What people acknowledge: the incident's code, else the story's first ticket."""
    if story.incident_id is not None:
        incident = session.get(Incident, story.incident_id)
        if incident is not None and incident.code:
            return incident.code
    if story.ticket_id is not None:
        ticket = session.get(Ticket, story.ticket_id)
        if ticket is not None and ticket.code:
            return ticket.code
    return f"S{story.id}"


def top_messages(session: Session, story: Story, limit: int) -> list[Excerpt]:
    m = StoredMessage
    score = m.likes + m.reposts * 3 + m.replies * 2
    query = select(m).order_by(score.desc(), m.id).limit(limit)
    if story.incident_id is not None:
        query = query.where(m.incident_id == story.incident_id)
    elif story.cluster_id is not None:
        query = query.where(m.cluster_id == story.cluster_id)
    else:
        query = query.where(m.ticket_id.in_(members.ticket_ids(session, story.id) or [story.ticket_id or 0]))
    return [
        Excerpt(
            message_id=r.id,
            excerpt=r.text[:TOP_CHARS],
            url=r.url,
            author=r.author_name,
            likes=r.likes,
            reposts=r.reposts,
            replies=r.replies,
            created_at=r.created_at.isoformat(),
        )
        for r in session.scalars(query)
    ]


def _commands(code: str) -> dict[str, str]:
    return {"ack_command": f"yuqing ack {code}", "resolve_command": f"yuqing resolve {code}"}


def page_notice(
    session: Session, story: Story, step: str, people: list[Person], top: int
) -> TicketPage | IncidentPage | SlaAlert:
    """The page for ``step`` (``page:0:0`` first, ``page:1:0`` escalated, ``raise:L1`` ...)."""
    code = story_code(session, story)
    if story.kind == "sla":  # an SLA breach: the clock's facts were kept on the story when it opened
        fields = dict((story.subject or {}).get("sla") or {})
        return SlaAlert(level="breach", story=code, step=step, recipients=people, **fields, **_commands(code))
    if story.incident_id is not None:
        incident = session.get(Incident, story.incident_id)
        assert incident is not None
        return IncidentPage(
            priority=most_urgent(incident.severity, story.severity),
            title=incident.title,
            story=code,
            step=step,
            incident=code,
            state=incident.state,
            reason=incident.reason,
            team=story.team,
            messages=incident.message_count,
            sources=list(incident.sources),
            heat=round(incident.heat, 1),
            reach=incident.reach,
            first_seen=incident.first_seen.isoformat(),
            last_seen=incident.last_seen.isoformat(),
            recipients=people,
            top=top_messages(session, story, top),
            **_commands(code),
        )
    return _ticket_page(session, story, step, people, code)


def _ticket_page(session: Session, story: Story, step: str, people: list[Person], code: str) -> TicketPage:
    ticket = session.get(Ticket, story.ticket_id) if story.ticket_id is not None else None
    row = session.get(StoredMessage, story.message_id) if story.message_id is not None else None
    source = session.get(Source, row.source_id) if row is not None else None
    record = (row.analysis or {}) if row is not None else {}
    findings = [f for f in record.get("findings") or [] if f.get("alert")] or record.get("findings") or []
    tickets = members.count(session, story.id)
    reason = "new ticket" if step == "page:0:0" else step
    if tickets > 1:
        reason += f" · {tickets} 个相似工单 similar tickets"
    return TicketPage(
        priority=story.severity,
        title=ticket.title if ticket is not None else story.title,
        story=code,
        step=step,
        reason=reason,
        ticket=code,
        status=ticket.status if ticket is not None else "",
        source=source.name if source is not None else "",
        channel=ticket.channel if ticket is not None else "",
        excerpt=row.text[:EXCERPT_CHARS] if row is not None else "",
        author=row.author_name if row is not None else "",
        url=row.url if row is not None else None,
        message_id=row.id if row is not None else None,
        external_id=row.external_id if row is not None else "",
        created_at=row.created_at.isoformat() if row is not None else "",
        rules=[str(f["rule_id"]) for f in findings] or list(record.get("rules") or []),
        keywords=list(record.get("keywords") or []),
        type=ticket.feedback_type if ticket is not None else None,
        category=ticket.category if ticket is not None else None,
        tags=sorted({str(t) for f in findings for t in f.get("tags") or []}),
        tickets=max(1, tickets),
        messages=story.message_count,
        recipients=people,
        **_commands(code),
    )


def update_notice(session: Session, story: Story, new_messages: int, top: int) -> StoryUpdate:
    code = story_code(session, story)
    return StoryUpdate(
        priority=story.severity,
        title=story.title,
        story=code,
        step=f"update:{story.updates}",
        new_messages=new_messages,
        messages=story.message_count,
        top=top_messages(session, story, top),
        ack_command=f"yuqing ack {code}",
    )


def acknowledged_notice(session: Session, story: Story, note: str | None) -> Acknowledged:
    code = story_code(session, story)
    return Acknowledged(
        priority=story.severity,
        title=story.title,
        story=code,
        step="acknowledged",
        acknowledged_by=story.acknowledged_by,
        note=note,
        resolve_command=f"yuqing resolve {code}",
    )


def resolved_notice(session: Session, story: Story, note: str | None) -> Resolved:
    return Resolved(
        priority=story.severity,
        title=story.title,
        story=story_code(session, story),
        step="resolved",
        resolved_by=story.resolved_by,
        note=note,
    )
