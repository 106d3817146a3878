"""PostgreSQL: no NOTIFY trigger; the process's outbox sweeper may see which outboxes wait.

The relay no longer LISTENs (a connection per tenant, and LISTEN does not work through a
pooler in transaction mode): the writer's process publishes right after its commit, and one
sweeper per process finds outboxes with unsent rows in one query over all tenants' schemas.
That query runs as the platform's login role, which by itself may read no tenant table: the
tenant's role grants it the ``sent_at`` column of its outbox and nothing else (a timestamp,
never a message), and usage of the schema to reach it.

Revision ID: 0004_outbox_sweep
Revises: 0003_delivery_attempts
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0004_outbox_sweep"
down_revision = "0003_delivery_attempts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS outbox_messages_notify ON outbox_messages")
    op.execute("DROP FUNCTION IF EXISTS integra_outbox_notify()")
    op.execute(
        """
        DO $$
        BEGIN
            IF session_user <> current_user THEN
                EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), session_user);
                EXECUTE format('GRANT SELECT (sent_at) ON outbox_messages TO %I', session_user);
            END IF;
        END $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        DO $$
        BEGIN
            IF session_user <> current_user THEN
                EXECUTE format('REVOKE SELECT (sent_at) ON outbox_messages FROM %I', session_user);
            END IF;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION integra_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('integra_outbox', '');
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER outbox_messages_notify AFTER INSERT ON outbox_messages
        FOR EACH STATEMENT EXECUTE FUNCTION integra_outbox_notify()
        """
    )
