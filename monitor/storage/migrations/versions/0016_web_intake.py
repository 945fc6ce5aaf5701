"""intake: API keys (hashed), submissions with idempotency keys, attachments by content hash

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

REF = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "intake_keys",
        sa.Column("id", REF, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("rotated_at", WHEN, nullable=True),
        sa.Column("revoked_at", WHEN, nullable=True),
        sa.Column("last_used_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_table(
        "intake_submissions",
        sa.Column("id", REF, autoincrement=True, nullable=False),
        sa.Column("client", sa.String(length=80), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("message_id", REF, nullable=True),
        sa.Column("ticket_code", sa.String(length=16), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("feedback_type", sa.String(length=32), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("app_version", sa.String(length=64), nullable=True),
        sa.Column("device", sa.String(length=128), nullable=True),
        sa.Column("locale", sa.String(length=16), nullable=True),
        sa.Column("store", sa.String(length=64), nullable=True),
        sa.Column("box", sa.String(length=64), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client", "idempotency_key", name="uq_intake_idempotency"),
    )
    op.create_index("ix_intake_ticket", "intake_submissions", ["ticket_code"])
    op.create_table(
        "intake_attachments",
        sa.Column("id", REF, autoincrement=True, nullable=False),
        sa.Column("submission_id", REF, nullable=False),
        sa.Column("message_id", REF, nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"]),
        sa.ForeignKeyConstraint(["submission_id"], ["intake_submissions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_intake_attachments_message", "intake_attachments", ["message_id"])


def downgrade() -> None:
    # indexes go with their tables (MariaDB refuses to drop one a foreign key uses)
    op.drop_table("intake_attachments")
    op.drop_table("intake_submissions")
    op.drop_table("intake_keys")
