"""sla results: each ticket's SLA clocks as last computed from its event log (monthly report)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

REF = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sla_results",
        sa.Column("id", REF, autoincrement=True, nullable=False),
        sa.Column("ticket_id", REF, nullable=False),
        sa.Column("clock", sa.String(length=32), nullable=False),
        sa.Column("profile", sa.String(length=64), nullable=False),
        sa.Column("target_s", sa.BigInteger(), nullable=False),
        sa.Column("elapsed_s", sa.BigInteger(), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "clock", name="uq_sla_results_ticket_clock"),
    )


def downgrade() -> None:
    op.drop_table("sla_results")
