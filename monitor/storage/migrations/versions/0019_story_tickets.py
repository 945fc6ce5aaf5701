"""stories: their tickets as rows of ``story_tickets`` instead of a JSON list column

A story's ticket list was one JSON column rewritten whole whenever the story grew: every batch of
a large incident decoded and encoded all of its tickets again (4,000 tickets: ~22 KB per batch),
so a batch cost more the longer the incident ran. Each pair is now one row, written once.

Upgrade copies every story's list into rows, a batch of stories at a time; downgrade writes the
lists back from the rows.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

BATCH = 500  # stories per round trip
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_stories = sa.table("stories", sa.column("id", sa.BigInteger), sa.column("tickets", sa.JSON))
_pairs = sa.table("story_tickets", sa.column("story_id", sa.BigInteger), sa.column("ticket_id", sa.BigInteger))


def _ids(value: Any) -> list[int]:
    if isinstance(value, str):  # a driver that hands JSON back as text
        value = json.loads(value or "[]")
    return sorted({int(v) for v in value or ()})


def upgrade() -> None:
    op.create_table(
        "story_tickets",
        sa.Column("story_id", BigId, primary_key=True, autoincrement=False),
        sa.Column("ticket_id", BigId, primary_key=True, autoincrement=False),
    )
    op.create_index("ix_story_tickets_ticket", "story_tickets", ["ticket_id"])
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(_stories.c.id, _stories.c.tickets).where(_stories.c.id > last).order_by(_stories.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        pairs = [{"story_id": story, "ticket_id": ticket} for story, tickets in rows for ticket in _ids(tickets)]
        if pairs:
            connection.execute(_pairs.insert(), pairs)
        last = rows[-1][0]
    op.drop_column("stories", "tickets")


def downgrade() -> None:
    op.add_column("stories", sa.Column("tickets", sa.JSON(), nullable=True))
    connection = op.get_bind()
    lists: dict[int, list[int]] = {}
    for story, ticket in connection.execute(
        sa.select(_pairs.c.story_id, _pairs.c.ticket_id).order_by(_pairs.c.story_id, _pairs.c.ticket_id)
    ):
        lists.setdefault(int(story), []).append(int(ticket))
    update = _stories.update().where(_stories.c.id == sa.bindparam("sid")).values(tickets=sa.bindparam("list"))
    items = [{"sid": story, "list": tickets} for story, tickets in lists.items()]
    for start in range(0, len(items), BATCH):
        connection.execute(update, items[start : start + BATCH])
    connection.execute(_stories.update().where(_stories.c.tickets.is_(None)).values(tickets=[]))
    with op.batch_alter_table("stories") as batch:
        batch.alter_column("tickets", existing_type=sa.JSON(), nullable=False)
    op.drop_index("ix_story_tickets_ticket", table_name="story_tickets")
    op.drop_table("story_tickets")
