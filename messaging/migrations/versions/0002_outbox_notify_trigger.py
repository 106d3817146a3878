"""PostgreSQL: the outbox table itself wakes the relay (NOTIFY on insert, sent at commit).

A statement-level trigger instead of a NOTIFY statement from the application: one round trip
less in every transaction that appends messages, and rows inserted by any path (a replay, a
manual fix) wake the relay too. PostgreSQL folds the NOTIFYs of one transaction into one and
delivers it only on commit. SQLite has no NOTIFY; its relay polls.

Revision ID: 0002_outbox_notify_trigger
Revises: 0001_bus_tables
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0002_outbox_notify_trigger"
down_revision = "0001_bus_tables"
branch_labels = None
depends_on = None

# Kept equal to messaging.outbox.NOTIFY_CHANNEL; a migration must not change with later code.
CHANNEL = "integra_outbox"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION integra_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '');
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


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER outbox_messages_notify ON outbox_messages")
    op.execute("DROP FUNCTION integra_outbox_notify()")
