"""initial schema of the agreement service

Revision ID: 0001
Revises:
Create Date: 2026-11-22 16:21:02.702844
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

import tenants.schema

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), sa.Identity(always=False), nullable=False),
    sa.Column('at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant', sa.String(length=60), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('actor_role', sa.String(length=20), nullable=False),
    sa.Column('office_id', sa.Uuid(), nullable=True),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('object_type', sa.String(length=40), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=True),
    sa.Column('client_id', sa.Uuid(), nullable=True),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_events_hash'))
    )
    op.create_index(op.f('ix_audit_events_client_id'), 'audit_events', ['client_id'], unique=False)
    op.create_table('offices',
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('programme', sa.String(length=3), nullable=False),
    sa.Column('carrier', sa.String(length=100), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offices')),
    sa.UniqueConstraint('key', name=op.f('uq_offices_key'))
    )
    op.create_table('api_clients',
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('secret_hash', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('office_id', sa.Uuid(), nullable=True),
    sa.Column('revoked_at', tenants.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_api_clients_office_id_offices')),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_api_clients'))
    )
    op.create_table('clients',
    sa.Column('office_id', sa.Uuid(), nullable=False),
    sa.Column('given_name', sa.String(length=100), nullable=False),
    sa.Column('family_name', sa.String(length=100), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('country_of_origin', sa.String(length=2), nullable=False),
    sa.Column('languages', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('arrival_date', sa.Date(), nullable=False),
    sa.Column('household', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('residence_status', sa.String(length=40), nullable=True),
    sa.Column('course_obligation', sa.Boolean(), nullable=False),
    sa.Column('course_obligation_imposed_by', sa.String(length=30), nullable=True),
    sa.Column('health_notes', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_clients_office_id_offices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clients'))
    )
    op.create_index('ix_clients_office_family_name', 'clients', ['office_id', 'family_name'], unique=False)
    op.create_index(op.f('ix_clients_office_id'), 'clients', ['office_id'], unique=False)
    op.create_table('users',
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('office_id', sa.Uuid(), nullable=True),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_users_office_id_offices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('access_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=200), nullable=False),
    sa.Column('issued_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', tenants.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['api_clients.client_id'], name=op.f('fk_access_tokens_client_id_api_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_access_tokens_token_hash'))
    )
    op.create_index(op.f('ix_access_tokens_expires_at'), 'access_tokens', ['expires_at'], unique=False)
    op.create_table('agreements',
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('previous_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('amendment_reason', sa.Text(), nullable=True),
    sa.Column('client_signed_on', sa.Date(), nullable=True),
    sa.Column('counsellor_signed_on', sa.Date(), nullable=True),
    sa.Column('counsellor_signed_by', sa.String(length=100), nullable=True),
    sa.Column('activated_at', tenants.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', tenants.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=30), nullable=True),
    sa.Column('balance', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_agreements_client_id_clients')),
    sa.ForeignKeyConstraint(['previous_id'], ['agreements.id'], name=op.f('fk_agreements_previous_id_agreements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agreements')),
    sa.UniqueConstraint('client_id', 'version', name=op.f('uq_agreements_client_id'))
    )
    op.create_index(op.f('ix_agreements_client_id'), 'agreements', ['client_id'], unique=False)
    op.create_table('assessments',
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_assessments_client_id_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessments'))
    )
    op.create_index(op.f('ix_assessments_client_id'), 'assessments', ['client_id'], unique=False)
    op.create_table('consents',
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('recipient_kind', sa.String(length=30), nullable=False),
    sa.Column('purposes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('data_categories', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('signed_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', tenants.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', tenants.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_consents_client_id_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consents'))
    )
    op.create_index(op.f('ix_consents_client_id'), 'consents', ['client_id'], unique=False)
    op.create_table('goals',
    sa.Column('agreement_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=20), nullable=False),
    sa.Column('target', sa.Text(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('attainment', sa.String(length=20), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['agreement_id'], ['agreements.id'], name=op.f('fk_goals_agreement_id_agreements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_goals'))
    )
    op.create_index(op.f('ix_goals_agreement_id'), 'goals', ['agreement_id'], unique=False)
    op.create_table('reviews',
    sa.Column('agreement_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('obstacles', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['agreement_id'], ['agreements.id'], name=op.f('fk_reviews_agreement_id_agreements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews'))
    )
    op.create_index(op.f('ix_reviews_agreement_id'), 'reviews', ['agreement_id'], unique=False)
    op.create_table('steps',
    sa.Column('goal_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner_side', sa.String(length=20), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('origin_step_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['goal_id'], ['goals.id'], name=op.f('fk_steps_goal_id_goals')),
    sa.ForeignKeyConstraint(['origin_step_id'], ['steps.id'], name=op.f('fk_steps_origin_step_id_steps')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_steps'))
    )
    op.create_index(op.f('ix_steps_goal_id'), 'steps', ['goal_id'], unique=False)
    op.create_table('referrals',
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('step_id', sa.Uuid(), nullable=True),
    sa.Column('consent_id', sa.Uuid(), nullable=False),
    sa.Column('recipient_kind', sa.String(length=30), nullable=False),
    sa.Column('purpose', sa.String(length=30), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_referrals_client_id_clients')),
    sa.ForeignKeyConstraint(['consent_id'], ['consents.id'], name=op.f('fk_referrals_consent_id_consents')),
    sa.ForeignKeyConstraint(['step_id'], ['steps.id'], name=op.f('fk_referrals_step_id_steps')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referrals'))
    )
    op.create_index(op.f('ix_referrals_client_id'), 'referrals', ['client_id'], unique=False)
    op.create_index(op.f('ix_referrals_status'), 'referrals', ['status'], unique=False)
    op.create_table('review_step_results',
    sa.Column('review_id', sa.Uuid(), nullable=False),
    sa.Column('step_id', sa.Uuid(), nullable=False),
    sa.Column('result', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['review_id'], ['reviews.id'], name=op.f('fk_review_step_results_review_id_reviews')),
    sa.ForeignKeyConstraint(['step_id'], ['steps.id'], name=op.f('fk_review_step_results_step_id_steps')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_step_results')),
    sa.UniqueConstraint('review_id', 'step_id', name=op.f('uq_review_step_results_review_id'))
    )
    op.create_index(op.f('ix_review_step_results_review_id'), 'review_step_results', ['review_id'], unique=False)
    op.create_table('referral_events',
    sa.Column('referral_id', sa.Uuid(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('at', tenants.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('message_id', sa.Uuid(), nullable=True),
    sa.Column('reason_code', sa.String(length=60), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['referral_id'], ['referrals.id'], name=op.f('fk_referral_events_referral_id_referrals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_events'))
    )
    op.create_index(op.f('ix_referral_events_referral_id'), 'referral_events', ['referral_id'], unique=False)
    _make_audit_append_only()


APPEND_ONLY = {
    "postgresql": [
        """CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$""",
        """CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()""",
    ],
    "sqlite": [
        """CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
        """CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
    ],
}


def _make_audit_append_only() -> None:
    """The audit log is append-only in the database itself, not only by convention."""
    for statement in APPEND_ONLY.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    op.drop_index(op.f('ix_referral_events_referral_id'), table_name='referral_events')
    op.drop_table('referral_events')
    op.drop_index(op.f('ix_review_step_results_review_id'), table_name='review_step_results')
    op.drop_table('review_step_results')
    op.drop_index(op.f('ix_referrals_status'), table_name='referrals')
    op.drop_index(op.f('ix_referrals_client_id'), table_name='referrals')
    op.drop_table('referrals')
    op.drop_index(op.f('ix_steps_goal_id'), table_name='steps')
    op.drop_table('steps')
    op.drop_index(op.f('ix_reviews_agreement_id'), table_name='reviews')
    op.drop_table('reviews')
    op.drop_index(op.f('ix_goals_agreement_id'), table_name='goals')
    op.drop_table('goals')
    op.drop_index(op.f('ix_consents_client_id'), table_name='consents')
    op.drop_table('consents')
    op.drop_index(op.f('ix_assessments_client_id'), table_name='assessments')
    op.drop_table('assessments')
    op.drop_index(op.f('ix_agreements_client_id'), table_name='agreements')
    op.drop_table('agreements')
    op.drop_index(op.f('ix_access_tokens_expires_at'), table_name='access_tokens')
    op.drop_table('access_tokens')
    op.drop_table('users')
    op.drop_index(op.f('ix_clients_office_id'), table_name='clients')
    op.drop_index('ix_clients_office_family_name', table_name='clients')
    op.drop_table('clients')
    op.drop_table('api_clients')
    op.drop_table('offices')
    op.drop_index(op.f('ix_audit_events_client_id'), table_name='audit_events')
    op.drop_table('audit_events')
