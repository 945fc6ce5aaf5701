"""feedback: customer follow-ups (satisfaction, surveys), satisfaction answers, survey answers, opt-outs

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

REF = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)
LONG = sa.Text().with_variant(sa.Text(length=2**32 - 1), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "followups",
        sa.Column("id", REF, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=191), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ticket_id", REF, nullable=True),
        sa.Column("event_id", REF, nullable=True),
        sa.Column("campaign", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=True),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", LONG, nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("in_reply_to", sa.String(length=255), nullable=True),
        sa.Column("refs", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.Column("answered_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
        sa.UniqueConstraint("token"),
    )
    op.create_index("ix_followups_status", "followups", ["status", "channel"])
    op.create_index("ix_followups_ticket", "followups", ["ticket_id", "kind"])
    op.create_index("ix_followups_event", "followups", ["event_id"])
    op.create_index("ix_followups_campaign", "followups", ["campaign", "address"])
    op.create_table(
        "satisfaction",
        sa.Column("id", REF, autoincrement=True, nullable=False),
        sa.Column("ticket_id", REF, nullable=False),
        sa.Column("score", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("followup_id", REF, nullable=True),
        sa.Column("message_id", REF, nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_satisfaction_ticket", "satisfaction", ["ticket_id"])
    op.create_index("ix_satisfaction_at", "satisfaction", ["at"])
    op.create_table(
        "survey_answers",
        sa.Column("id", REF, autoincrement=True, nullable=False),
        sa.Column("campaign", sa.String(length=32), nullable=False),
        sa.Column("followup_id", REF, nullable=True),
        sa.Column("address", sa.String(length=255), nullable=True),
        sa.Column("score", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", REF, nullable=True),
        sa.Column("message_id", REF, nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_survey_answers_campaign", "survey_answers", ["campaign", "at"])
    op.create_table(
        "opt_outs",
        sa.Column("id", REF, autoincrement=True, nullable=False),
        sa.Column("address", sa.String(length=191), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("campaign", sa.String(length=32), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("address"),
    )


def downgrade() -> None:
    op.drop_table("opt_outs")
    op.drop_index("ix_survey_answers_campaign", table_name="survey_answers")
    op.drop_table("survey_answers")
    op.drop_index("ix_satisfaction_at", table_name="satisfaction")
    op.drop_index("ix_satisfaction_ticket", table_name="satisfaction")
    op.drop_table("satisfaction")
    for name in ("ix_followups_campaign", "ix_followups_event", "ix_followups_ticket", "ix_followups_status"):
        op.drop_index(name, table_name="followups")
    op.drop_table("followups")
