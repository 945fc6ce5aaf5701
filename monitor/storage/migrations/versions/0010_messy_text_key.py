"""reposts: a digest of each message's normalised text (and of a chain's original), so a ``//@user:`` chain and the post it quotes find each other

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29

Branch ``messy``: renumber at merge if another 0010 lands first. Rows stored before this
revision keep ``text_key`` NULL (they are not found by text; new reposts of new posts are).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("text_key", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("root_key", sa.String(length=40), nullable=True))
    op.create_index("ix_messages_text_key", "messages", ["text_key"])
    op.create_index("ix_messages_root_key", "messages", ["root_key"])


def downgrade() -> None:
    op.drop_index("ix_messages_root_key", table_name="messages")
    op.drop_index("ix_messages_text_key", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("root_key")
        batch.drop_column("text_key")
