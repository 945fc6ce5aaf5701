"""threading: a message's own reference id (RFC Message-ID, chat message id, post id) and topic

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-29

Numbered 0006 so that it does not clash with 0004/0005 written at the same time on other
branches; whoever merges re-points ``down_revision`` at the newest of those.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("ref_id", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("topic", sa.String(length=64), nullable=True))
    op.create_index("ix_messages_ref", "messages", ["ref_id"])
    op.create_index("ix_messages_thread", "messages", ["source_id", "thread_key"])
    op.create_index("ix_messages_topic", "messages", ["source_id", "topic", "author_id"])


def downgrade() -> None:
    op.drop_index("ix_messages_topic", table_name="messages")
    op.drop_index("ix_messages_thread", table_name="messages")
    op.drop_index("ix_messages_ref", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("topic")
        batch.drop_column("ref_id")
