"""ticket policy: the policy's ticket record, calendar days/years, SLA notice log

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

REF = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)
LONG = sa.Text().with_variant(sa.Text(length=2**32 - 1), "mysql", "mariadb")
TICKET_COLUMNS = (
    ("source_url", sa.String(length=2048)),
    ("customer_name", sa.String(length=255)),
    ("customer_handle", sa.String(length=255)),
    ("customer_contact", sa.String(length=255)),
    ("received_at", WHEN),
    ("content", LONG),
    ("department", sa.String(length=64)),
    ("assignee", sa.String(length=128)),
    ("incident_id", REF),
    ("tags", sa.JSON()),
)


def upgrade() -> None:
    # plain ADD/DROP COLUMN (SQLite >= 3.35 has both): a batch copy of ``tickets`` would have to
    # drop the table that ``messages`` and ``ticket_events`` reference
    for name, kind in TICKET_COLUMNS:
        op.add_column("tickets", sa.Column(name, kind, nullable=True))
    op.add_column("tickets", sa.Column("complex", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("ix_tickets_status", "tickets", ["status"])
    op.create_table(
        "calendar_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("loaded_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    op.create_table(
        "sla_notices",
        sa.Column("id", REF, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=191), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", REF, nullable=True),
        sa.Column("clock", sa.String(length=32), nullable=True),
        sa.Column("due_at", WHEN, nullable=True),
        sa.Column("emitted_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_sla_notices_ticket", "sla_notices", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_sla_notices_ticket", table_name="sla_notices")
    op.drop_table("sla_notices")
    op.drop_table("calendar_years")
    op.drop_table("calendar_days")
    op.drop_index("ix_tickets_status", table_name="tickets")
    op.drop_column("tickets", "complex")
    for name, _kind in reversed(TICKET_COLUMNS):
        op.drop_column("tickets", name)
