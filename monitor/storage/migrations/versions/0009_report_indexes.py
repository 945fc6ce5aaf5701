"""report indexes: tickets by creation time, ticket events by (ticket, kind, time); report mail log

The monthly metrics read one month of tickets by ``created_at`` and, per ticket, its first
``responded`` and ``status`` events. Both indexes cover what the report reads (tickets: the
dimensions and status; events: kind, new value and time), so neither table is touched row by row. ``report_runs``
records each mailed monthly report so the scheduled job sends a month once.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

REF = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_index("ix_tickets_created", "tickets", ["created_at", "status", "priority", "channel", "feedback_type", "category"])
    op.create_index("ix_ticket_events_kind", "ticket_events", ["ticket_id", "kind", "new_value", "at"])
    op.create_table(
        "report_runs",
        sa.Column("id", REF, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "period", name="uq_report_runs_kind_period"),
    )


def downgrade() -> None:
    op.drop_table("report_runs")
    op.drop_index("ix_ticket_events_kind", table_name="ticket_events")
    op.drop_index("ix_tickets_created", table_name="tickets")
