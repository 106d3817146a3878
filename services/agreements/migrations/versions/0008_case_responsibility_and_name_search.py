"""Cases belong to someone, and people are found by name as counsellors type it.

- ``clients.responsible_id``: the counsellor responsible for the case ("Meine Fälle"),
  handed over by office leads. Existing cases get the staff user who registered them
  (``created_by = 'user:<username>'``); cases created through the API stay unassigned.
- ``clients.search_name``: given and family name without accents and case
  (``models.name_search.search_key``), computed here for existing clients; on PostgreSQL a
  trigram index (pg_trgm, in schema public) answers substring and typo-tolerant search.
- ``ix_clients_office_updated``: the dashboard's cases of the office, newest changes first.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.agreements.models.name_search import search_key

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SEARCH_INDEX = "ix_clients_search_name_trgm"
BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("responsible_id", sa.Uuid(), nullable=True))
        batch.add_column(
            sa.Column("search_name", sa.String(length=201), nullable=False, server_default="")
        )
        batch.create_foreign_key(
            "fk_clients_responsible_id_users", "users", ["responsible_id"], ["id"]
        )
        batch.create_index("ix_clients_responsible_id", ["responsible_id"])
        batch.create_index("ix_clients_office_updated", ["office_id", "updated_at"])
    with op.batch_alter_table("clients") as batch:
        batch.alter_column("search_name", server_default=None)
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "UPDATE clients SET responsible_id = (SELECT users.id FROM users "
            "WHERE 'user:' || users.username = clients.created_by)"
        )
    )
    clients = sa.table(
        "clients",
        sa.column("id", sa.Uuid()),
        sa.column("given_name", sa.String()),
        sa.column("family_name", sa.String()),
        sa.column("search_name", sa.String()),
    )
    rows = bind.execute(sa.select(clients.c.id, clients.c.given_name, clients.c.family_name)).all()
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        bind.execute(
            clients.update()
            .where(clients.c.id == sa.bindparam("client_id"))
            .values(search_name=sa.bindparam("key")),
            [{"client_id": row.id, "key": search_key(row.given_name, row.family_name)}
             for row in chunk],
        )  # fmt: skip
    if bind.dialect.name == "postgresql":
        op.execute(f"CREATE INDEX {SEARCH_INDEX} ON clients USING gin (search_name gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX {SEARCH_INDEX}")
    with op.batch_alter_table("clients") as batch:
        batch.drop_index("ix_clients_office_updated")
        batch.drop_index("ix_clients_responsible_id")
        batch.drop_constraint("fk_clients_responsible_id_users", type_="foreignkey")
        batch.drop_column("search_name")
        batch.drop_column("responsible_id")
