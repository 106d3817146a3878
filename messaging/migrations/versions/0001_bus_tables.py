"""Bus tables: outbox, inbox, dead-letter log.

Revision ID: 0001_bus_tables
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tenants.schema import UTCDateTime

revision = "0001_bus_tables"
down_revision = None
branch_labels = ("messaging",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("correlation_id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(63), nullable=False),
        sa.Column("envelope", sa.JSON(), nullable=False),
        sa.Column("encrypt", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_messages"),
        sa.UniqueConstraint("correlation_id", "sequence", name="uq_outbox_messages_sequence"),
    )
    op.create_index("ix_outbox_messages_pending", "outbox_messages", ["sent_at", "created_at"])
    op.create_table(
        "inbox_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("correlation_id", sa.Uuid(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inbox_messages"),
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("type", sa.String(100), nullable=True),
        sa.Column("reason_code", sa.String(50), nullable=False),
        sa.Column("reason_text", sa.Text(), nullable=True),
        sa.Column("dead_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dead_letters"),
    )
    op.create_index("ix_dead_letters_message_id", "dead_letters", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_dead_letters_message_id", table_name="dead_letters")
    op.drop_table("dead_letters")
    op.drop_table("inbox_messages")
    op.drop_index("ix_outbox_messages_pending", table_name="outbox_messages")
    op.drop_table("outbox_messages")
