"""A story whose first page matches an active silence is not paged; its trail says which silence."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.storage.models import IncidentEvent, Silence, StoredMessage, Story, TicketEvent
from monitor.stories.observe import event
from monitor.stories.silences import Subject, active_silences, matching


def silenced(session: Session, story: Story, now: datetime, silences: list[Silence] | None = None) -> bool:
    """Whether an active silence matches the story (``silences``: the active ones, if already read)."""
    silences = active_silences(session, now) if silences is None else silences
    if not silences:
        return False
    record = story.subject or {}
    text = story.title
    if story.message_id is not None:
        text += "\n" + (
            session.scalar(select(StoredMessage.text).where(StoredMessage.id == story.message_id)) or ""
        )
    subject = Subject(
        rules=frozenset(record.get("rules", ())),
        tags=frozenset(record.get("tags", ())),
        sources=frozenset(record.get("sources", ())),
        text=text,
    )
    silence = matching(silences, subject)
    if silence is None:
        return False
    value = f"{silence.matcher}:{silence.value}"[:255]
    event(session, story, "silenced", now, new=value)
    if story.incident_id is not None:
        session.add(IncidentEvent(incident_id=story.incident_id, kind="silenced", new_value=value, at=now))
    elif story.ticket_id is not None:
        session.add(
            TicketEvent(
                ticket_id=story.ticket_id,
                kind="silenced",
                new_value=value,
                message_id=story.message_id,
                at=now,
            )
        )
    story.next_escalation_at = None
    return True
