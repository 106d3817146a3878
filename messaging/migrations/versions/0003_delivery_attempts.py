"""Delivery attempts: poison-message protection for classic queues.

A quorum queue counted redeliveries itself (``x-delivery-limit``); a classic queue does not,
so the consumer counts them here, per message and consumer, in the tenant database.

Revision ID: 0003_delivery_attempts
Revises: 0002_outbox_notify_trigger
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tenants.schema import UTCDateTime

revision = "0003_delivery_attempts"
down_revision = "0002_outbox_notify_trigger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_attempts",
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("message_key", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "message_key", name="pk_delivery_attempts"),
    )


def downgrade() -> None:
    op.drop_table("delivery_attempts")
