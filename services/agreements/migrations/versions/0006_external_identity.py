"""external identity: staff users of an external provider by issuer and subject

An external OpenID Connect provider's users are matched by the id_token's ``iss`` and
``sub`` (not ``preferred_username``); the pair is unique.

Revision ID: 0006
Revises: o0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "o0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("external_issuer", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("external_subject", sa.String(length=255), nullable=True))
        batch.create_unique_constraint(
            "uq_users_external_issuer", ["external_issuer", "external_subject"]
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_external_issuer", type_="unique")
        batch.drop_column("external_subject")
        batch.drop_column("external_issuer")
