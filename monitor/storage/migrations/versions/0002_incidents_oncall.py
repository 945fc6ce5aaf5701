"""incidents, clusters, silences, review queue, paging columns

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
REF = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=16), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=4), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=True),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("heat", sa.Float(), nullable=False),
        sa.Column("reach", sa.BigInteger(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("first_seen", WHEN, nullable=False),
        sa.Column("last_seen", WHEN, nullable=False),
        sa.Column("opened_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("acknowledged_at", WHEN, nullable=True),
        sa.Column("acknowledged_by", sa.String(length=128), nullable=True),
        sa.Column("resolved_at", WHEN, nullable=True),
        sa.Column("resolved_by", sa.String(length=128), nullable=True),
        sa.Column("escalation_step", sa.Integer(), nullable=False),
        sa.Column("page_round", sa.Integer(), nullable=False),
        sa.Column("next_escalation_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index("ix_incidents_state", "incidents", ["state", "next_escalation_at"])
    op.create_table(
        "clusters",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("sketch", sa.JSON(), nullable=False),
        sa.Column("key0", sa.BigInteger(), nullable=True),
        sa.Column("key1", sa.BigInteger(), nullable=True),
        sa.Column("key2", sa.BigInteger(), nullable=True),
        sa.Column("key3", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("heat", sa.Float(), nullable=False),
        sa.Column("reach", sa.BigInteger(), nullable=False),
        sa.Column("priority", sa.String(length=4), nullable=True),
        sa.Column("first_seen", WHEN, nullable=False),
        sa.Column("last_seen", WHEN, nullable=False),
        sa.Column("incident_id", REF, nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    for band in range(4):
        op.create_index(f"ix_clusters_key{band}", "clusters", [f"key{band}"])
    op.create_index("ix_clusters_last_seen", "clusters", ["last_seen"])
    op.create_table(
        "incident_events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("incident_id", REF, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("old_value", sa.String(length=255), nullable=True),
        sa.Column("new_value", sa.String(length=255), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incident_events_incident", "incident_events", ["incident_id"])
    op.create_table(
        "silences",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("matcher", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_silences_expires", "silences", ["expires_at"])
    op.create_table(
        "locks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.bulk_insert(sa.table("locks", sa.column("name", sa.String)), [{"name": "incidents"}])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("cluster_id", REF, nullable=True))
        batch.add_column(sa.Column("incident_id", REF, nullable=True))
        batch.add_column(sa.Column("review_status", sa.String(length=16), nullable=True))
    op.create_index("ix_messages_cluster", "messages", ["cluster_id", "created_at"])
    op.create_index("ix_messages_incident", "messages", ["incident_id"])
    op.create_index("ix_messages_review", "messages", ["review_status"])
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("incident_id", REF, nullable=True))
        batch.add_column(sa.Column("step", sa.String(length=32), nullable=True))
    op.create_index("ix_alerts_incident", "alerts", ["incident_id"])
    op.create_index("ix_alerts_target_sent", "alerts", ["target", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_alerts_target_sent", table_name="alerts")
    op.drop_index("ix_alerts_incident", table_name="alerts")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("step")
        batch.drop_column("incident_id")
    for name in ("ix_messages_review", "ix_messages_incident", "ix_messages_cluster"):
        op.drop_index(name, table_name="messages")
    with op.batch_alter_table("messages") as batch:
        for column in ("review_status", "incident_id", "cluster_id"):
            batch.drop_column(column)
    # Dropping a table drops its indexes; dropping them first fails on MariaDB, where an index that
    # backs a foreign key cannot be dropped while the key exists.
    for table in ("locks", "silences", "incident_events", "clusters", "incidents"):
        op.drop_table(table)
