"""knowledge base: problem records, ticket↔problem links, the search index of resolved tickets

``problems`` are the known problems with their resolution; ``ticket_problems`` links resolved
tickets to them. ``kb_docs`` / ``kb_terms`` are the stored token index (the analysis tokens of a
resolved ticket's title, content and messages, term frequencies and document length) that
``yuqing kb search`` ranks with BM25; ``yuqing kb rebuild`` recomputes it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

REF = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)
LONG = sa.Text().with_variant(sa.Text(length=2**32 - 1), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "problems",
        sa.Column("id", REF, autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("resolution", LONG, nullable=False),
        sa.Column("tags", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "ticket_problems",
        sa.Column("ticket_id", REF, nullable=False),
        sa.Column("problem_id", REF, nullable=False),
        sa.Column("linked_by", sa.String(length=128), nullable=False),
        sa.Column("linked_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.ForeignKeyConstraint(["problem_id"], ["problems.id"]),
        sa.PrimaryKeyConstraint("ticket_id", "problem_id"),
    )
    op.create_index("ix_ticket_problems_problem", "ticket_problems", ["problem_id"])
    op.create_table(
        "kb_docs",
        sa.Column("ticket_id", REF, nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("indexed_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    op.create_table(
        "kb_terms",
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", REF, nullable=False),
        sa.Column("tf", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("term", "ticket_id"),
    )
    op.create_index("ix_kb_terms_ticket", "kb_terms", ["ticket_id"])


def downgrade() -> None:
    # dropping a table drops its indexes (MariaDB refuses to drop one a foreign key uses first)
    op.drop_table("kb_terms")
    op.drop_table("kb_docs")
    op.drop_table("ticket_problems")
    op.drop_table("problems")
