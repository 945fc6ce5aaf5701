"""Which tickets belong to which story (``story_tickets``, one row per pair; migration 0019).

A story grows by tickets batch after batch: :func:`add` inserts the batch's pairs, leaving those
already recorded alone, so a batch costs the same for a story of 10 tickets and one of 10,000. Readers ask for one story's ids
(:func:`ticket_ids`) or for counts (:func:`counts`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import Insert, Table, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from monitor.storage.models import StoryTicket

_TABLE: Table = StoryTicket.__table__  # type: ignore[assignment]
_CHUNK = 500
_IDS = select(StoryTicket.ticket_id).where(StoryTicket.story_id == bindparam("story")).order_by(StoryTicket.ticket_id)
_COUNTS = (
    select(StoryTicket.story_id, func.count())
    .where(StoryTicket.story_id.in_(bindparam("stories", expanding=True)))
    .group_by(StoryTicket.story_id)
)


def _insert_new(dialect: str) -> Insert:
    """INSERT that leaves pairs already recorded alone: ON CONFLICT DO NOTHING (SQLite,
    PostgreSQL), INSERT IGNORE (MariaDB/MySQL) - one statement, no read first."""
    if dialect == "sqlite":
        return sqlite_insert(_TABLE).on_conflict_do_nothing()
    if dialect == "postgresql":
        return postgresql_insert(_TABLE).on_conflict_do_nothing()
    return insert(_TABLE).prefix_with("IGNORE")


_INSERTS: dict[str, Insert] = {}


def add(session: Session, joined: Mapping[int, Iterable[int]]) -> None:
    """Record that each story (by id) has these tickets; pairs already recorded are left alone.
    One executemany for the whole batch."""
    rows = sorted({(story, ticket) for story, tickets in joined.items() for ticket in tickets})
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    statement = _INSERTS.get(dialect)
    if statement is None:
        statement = _INSERTS[dialect] = _insert_new(dialect)
    session.execute(statement, [{"story_id": story, "ticket_id": ticket} for story, ticket in rows])


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
