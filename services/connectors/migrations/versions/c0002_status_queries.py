"""status queries: when the agency last answered, when it was last asked

Revision ID: c0002
Revises: c0001
Create Date: 2026-11-30 01:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tenants.schema

revision = "c0002"
down_revision = "c0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connector_referrals") as batch:
        batch.add_column(
            sa.Column("last_heard_at", tenants.schema.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column(
                "status_queried_at", tenants.schema.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("connector_referrals") as batch:
        batch.drop_column("status_queried_at")
        batch.drop_column("last_heard_at")
