"""Which tickets belong to which story (``story_tickets``, one row per pair; migration 0019).

A story grows by tickets batch after batch: :func:`add` writes only the pairs that are new, so a
batch costs the same for a story of 10 tickets and one of 10,000. Readers ask for one story's ids
(:func:`ticket_ids`) or for counts (:func:`counts`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import Table, bindparam, func, insert, select
from sqlalchemy.orm import Session

from monitor.storage.models import StoryTicket

_TABLE: Table = StoryTicket.__table__  # type: ignore[assignment]
_CHUNK = 500
_KNOWN = select(StoryTicket.story_id, StoryTicket.ticket_id).where(
    StoryTicket.story_id.in_(bindparam("stories", expanding=True)),
    StoryTicket.ticket_id.in_(bindparam("tickets", expanding=True)),
)
_IDS = select(StoryTicket.ticket_id).where(StoryTicket.story_id == bindparam("story")).order_by(StoryTicket.ticket_id)
_COUNTS = (
    select(StoryTicket.story_id, func.count())
    .where(StoryTicket.story_id.in_(bindparam("stories", expanding=True)))
    .group_by(StoryTicket.story_id)
)


def add(session: Session, joined: Mapping[int, Iterable[int]]) -> int:
    """Record that each story (by id) has these tickets; pairs already recorded are left alone.
    One read and one executemany for the whole batch. Returns the rows written."""
    wanted = {(story, ticket) for story, tickets in joined.items() for ticket in tickets}
    if not wanted:
        return 0
    stories = sorted({story for story, _ in wanted})
    tickets = sorted({ticket for _, ticket in wanted})
    for start in range(0, len(tickets), _CHUNK):
        known = session.execute(_KNOWN, {"stories": stories, "tickets": tickets[start : start + _CHUNK]})
        wanted.difference_update((int(s), int(t)) for s, t in known)
    rows = [{"story_id": story, "ticket_id": ticket} for story, ticket in sorted(wanted)]
    if rows:
        session.execute(insert(_TABLE), rows)
    return len(rows)


def ticket_ids(session: Session, story_id: int) -> list[int]:
    """The story's tickets, in id order."""
    return [int(t) for t in session.scalars(_IDS, {"story": story_id})]


def counts(session: Session, story_ids: Sequence[int]) -> dict[int, int]:
    """How many tickets each story has (stories without any are left out)."""
    out: dict[int, int] = {}
    ordered = sorted(set(story_ids))
    for start in range(0, len(ordered), _CHUNK):
        for story, count in session.execute(_COUNTS, {"stories": ordered[start : start + _CHUNK]}):
            out[int(story)] = int(count)
    return out
