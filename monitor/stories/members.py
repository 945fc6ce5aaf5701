"""Which tickets belong to which story (``story_tickets``, one row per pair; migration 0019).

A story grows by tickets batch after batch: :func:`add` inserts the batch's pairs, leaving those
already recorded alone, so a batch costs the same for a story of 10 tickets and one of 10,000.
Readers ask for one story's ids (:func:`ticket_ids`) or their number (:func:`count`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache

from sqlalchemy import Insert, Table, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from monitor.storage.models import StoryTicket

_TABLE: Table = StoryTicket.__table__  # type: ignore[assignment]
_IDS = select(StoryTicket.ticket_id).where(StoryTicket.story_id == bindparam("story")).order_by(StoryTicket.ticket_id)
_COUNT = select(func.count()).select_from(StoryTicket).where(StoryTicket.story_id == bindparam("story"))


@cache
def _insert_new(dialect: str) -> Insert:
    """INSERT that leaves pairs already recorded alone: ON CONFLICT DO NOTHING (SQLite,
    PostgreSQL), INSERT IGNORE (MariaDB/MySQL) - one statement, no read first; built once per
    dialect."""
    if dialect == "sqlite":
        return sqlite_insert(_TABLE).on_conflict_do_nothing()
    if dialect == "postgresql":
        return postgresql_insert(_TABLE).on_conflict_do_nothing()
    return insert(_TABLE).prefix_with("IGNORE")


def add(session: Session, joined: Mapping[int, Iterable[int]]) -> None:
    """Record that each story (by id) has these tickets; pairs already recorded are left alone.
    One executemany for the whole batch."""
    rows = sorted({(story, ticket) for story, tickets in joined.items() for ticket in tickets})
    if rows:
        statement = _insert_new(session.get_bind().dialect.name)
        session.execute(statement, [{"story_id": story, "ticket_id": ticket} for story, ticket in rows])


def ticket_ids(session: Session, story_id: int) -> list[int]:
    """The story's tickets, in id order."""
    return [int(t) for t in session.scalars(_IDS, {"story": story_id})]


def count(session: Session, story_id: int) -> int:
    """How many tickets the story has."""
    return int(session.scalar(_COUNT, {"story": story_id}) or 0)
