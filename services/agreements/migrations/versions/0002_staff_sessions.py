"""staff sessions and the built-in provider's authorization codes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 16:31:25.565926
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tenants.schema

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('oidc_authorization_codes',
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('redirect_uri', sa.Text(), nullable=False),
    sa.Column('scope', sa.String(length=200), nullable=False),
    sa.Column('nonce', sa.String(length=200), nullable=True),
    sa.Column('code_challenge', sa.String(length=128), nullable=False),
    sa.Column('code_challenge_method', sa.String(length=10), nullable=False),
    sa.Column('auth_time', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_oidc_authorization_codes_user_id_users')),
    sa.PrimaryKeyConstraint('code_hash', name=op.f('pk_oidc_authorization_codes'))
    )
    with op.batch_alter_table('oidc_authorization_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oidc_authorization_codes_expires_at'), ['expires_at'], unique=False)

    op.create_table('staff_sessions',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', tenants.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('remote_addr', sa.String(length=45), nullable=False),
    sa.Column('user_agent', sa.String(length=200), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_staff_sessions_user_id_users')),
    sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_staff_sessions'))
    )
    with op.batch_alter_table('staff_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_sessions_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_sessions_user_id'), ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('staff_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_staff_sessions_expires_at'))

    op.drop_table('staff_sessions')
    with op.batch_alter_table('oidc_authorization_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oidc_authorization_codes_expires_at'))

    op.drop_table('oidc_authorization_codes')
