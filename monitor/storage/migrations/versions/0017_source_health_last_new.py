"""source health: when a source last stored a new message (the silence watch survives a restart)

``source-silent`` compares the time since a source's last new message with its
``expect_messages_within``; the daemon kept that time in memory only, so a restart (or another
instance taking the source over) started the count again. The row keeps it now.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("source_health") as batch:
        batch.add_column(sa.Column("last_new_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("source_health") as batch:
        batch.drop_column("last_new_at")
