"""stories: one row per story (incident or lone ticket group) with its group timers; story events;
alerts.story_id

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

REF = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("story_id", REF, nullable=True))
    op.create_index("ix_alerts_story", "alerts", ["story_id"])
    op.create_table(
        "stories",
        sa.Column("id", REF, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(4), nullable=True),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("cluster_id", REF, nullable=True),
        sa.Column("incident_id", REF, nullable=True),
        sa.Column("ticket_id", REF, nullable=True),
        sa.Column("message_id", REF, nullable=True),
        sa.Column("route", sa.String(255), nullable=False),
        sa.Column("receivers", sa.JSON(), nullable=False),
        sa.Column("team", sa.String(64), nullable=True),
        sa.Column("group_wait_s", sa.Float(), nullable=False),
        sa.Column("group_interval_s", sa.Float(), nullable=False),
        sa.Column("repeat_interval_s", sa.Float(), nullable=False),
        sa.Column("subject", sa.JSON(), nullable=False),
        sa.Column("tickets", sa.JSON(), nullable=False),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("pending_messages", sa.Integer(), nullable=False),
        sa.Column("opened_at", WHEN, nullable=False),
        sa.Column("notify_at", WHEN, nullable=True),
        sa.Column("paged_at", WHEN, nullable=True),
        sa.Column("notified_at", WHEN, nullable=True),
        sa.Column("notified_severity", sa.String(4), nullable=True),
        sa.Column("updates", sa.Integer(), nullable=False),
        sa.Column("escalation_step", sa.Integer(), nullable=False),
        sa.Column("page_round", sa.Integer(), nullable=False),
        sa.Column("next_escalation_at", WHEN, nullable=True),
        sa.Column("acknowledged_at", WHEN, nullable=True),
        sa.Column("acknowledged_by", sa.String(128), nullable=True),
        sa.Column("resolved_at", WHEN, nullable=True),
        sa.Column("resolved_by", sa.String(128), nullable=True),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_index("ix_stories_notify", "stories", ["notify_at"])
    op.create_index("ix_stories_escalation", "stories", ["state", "next_escalation_at"])
    op.create_index("ix_stories_cluster", "stories", ["cluster_id", "state"])
    op.create_index("ix_stories_incident", "stories", ["incident_id"])
    op.create_index("ix_stories_ticket", "stories", ["ticket_id", "state"])
    op.create_table(
        "story_events",
        sa.Column("id", REF, primary_key=True, autoincrement=True),
        sa.Column("story_id", REF, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("old_value", sa.String(255), nullable=True),
        sa.Column("new_value", sa.String(255), nullable=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", WHEN, nullable=False),
    )
    op.create_index("ix_story_events_story", "story_events", ["story_id"])


def downgrade() -> None:
    op.drop_table("story_events")
    op.drop_table("stories")
    op.drop_index("ix_alerts_story", table_name="alerts")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("story_id")
