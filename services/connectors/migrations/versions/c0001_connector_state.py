"""connector state

Revision ID: c0001
Revises:
Create Date: 2026-11-22 16:33:09.807537
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tenants.schema

revision = 'c0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('connector_deliveries',
    sa.Column('message_id', sa.Uuid(), nullable=False),
    sa.Column('referral_id', sa.Uuid(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('envelope', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', tenants.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('delay_reported_at', tenants.schema.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('message_id', name=op.f('pk_connector_deliveries'))
    )
    op.create_index('ix_connector_deliveries_due', 'connector_deliveries', ['status', 'next_attempt_at'], unique=False)
    op.create_index(op.f('ix_connector_deliveries_referral_id'), 'connector_deliveries', ['referral_id'], unique=False)
    op.create_table('connector_referrals',
    sa.Column('referral_id', sa.Uuid(), nullable=False),
    sa.Column('consent_id', sa.Uuid(), nullable=False),
    sa.Column('purpose', sa.String(length=30), nullable=False),
    sa.Column('received_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('referral_id', name=op.f('pk_connector_referrals'))
    )
    op.create_index(op.f('ix_connector_referrals_consent_id'), 'connector_referrals', ['consent_id'], unique=False)
    op.create_table('connector_revoked_consents',
    sa.Column('consent_id', sa.Uuid(), nullable=False),
    sa.Column('revoked_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('consent_id', name=op.f('pk_connector_revoked_consents'))
    )


def downgrade() -> None:
    op.drop_table('connector_revoked_consents')
    op.drop_index(op.f('ix_connector_referrals_consent_id'), table_name='connector_referrals')
    op.drop_table('connector_referrals')
    op.drop_index(op.f('ix_connector_deliveries_referral_id'), table_name='connector_deliveries')
    op.drop_index('ix_connector_deliveries_due', table_name='connector_deliveries')
    op.drop_table('connector_deliveries')
