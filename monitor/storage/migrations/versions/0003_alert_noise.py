"""alert noise control: folded alerts (digests, overflow summaries), dispatch time, target lock rows

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

REF = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("folded_into", REF, nullable=True))
        batch.add_column(sa.Column("dispatched_at", WHEN, nullable=True))
    op.create_index("ix_alerts_folded", "alerts", ["folded_into"])
    op.create_index("ix_alerts_target_dispatched", "alerts", ["target", "dispatched_at"])
    op.create_table(
        "alert_targets",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("alert_targets")
    op.drop_index("ix_alerts_target_dispatched", table_name="alerts")
    op.drop_index("ix_alerts_folded", table_name="alerts")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("dispatched_at")
        batch.drop_column("folded_into")
