"""Figures, reviews and retention: the closing questions, next_review_due, the retention
mark on clients and the deletion log.

- ``agreements.helped`` and ``agreements.easier_to_keep_going``: the two questions of the
  pilot's evaluation, asked at closing (optional).
- ``agreements.next_review_due``: when an active agreement is next due for review. Agreements
  active at upgrade time get the default (six months after their last review, or after
  activation); the tenant's own interval applies from their next signing or review on.
- ``clients.personal_data_removed_at``: set by the retention rule.
- ``retention_runs``: the deletion log (no personal data).
- ``figure_counts`` and ``figure_values``: the running counts and the measured durations
  behind the figures, and the first moments they need
  (``clients.first_signed_at``; ``referrals.reached_at``, ``answered_at``, ``started_at``),
  computed here from the existing cases (``figures.counts.rebuild``) and kept by the
  operations from then on.
- Indexes the figures filter by (period on created_at / closed_at).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tenants.schema

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BACKFILL = {
    "postgresql": """
        UPDATE agreements SET next_review_due = CAST(
            COALESCE(
                (SELECT max(r.created_at) FROM reviews r WHERE r.agreement_id = agreements.id),
                activated_at, created_at
            ) + INTERVAL '6 months' AS date)
        WHERE status = 'active'""",
    "sqlite": """
        UPDATE agreements SET next_review_due = date(
            COALESCE(
                (SELECT max(r.created_at) FROM reviews r WHERE r.agreement_id = agreements.id),
                activated_at, created_at
            ), '+6 months')
        WHERE status = 'active'""",
}


def upgrade() -> None:
    op.add_column("agreements", sa.Column("helped", sa.String(length=10), nullable=True))
    op.add_column(
        "agreements", sa.Column("easier_to_keep_going", sa.String(length=10), nullable=True)
    )
    op.add_column("agreements", sa.Column("next_review_due", sa.Date(), nullable=True))
    op.create_index(op.f("ix_agreements_next_review_due"), "agreements", ["next_review_due"])
    op.create_index(op.f("ix_agreements_created_at"), "agreements", ["created_at"])
    op.create_index(op.f("ix_agreements_closed_at"), "agreements", ["closed_at"])
    op.add_column(
        "clients",
        sa.Column(
            "personal_data_removed_at", tenants.schema.UTCDateTime(timezone=True), nullable=True
        ),
    )
    op.create_table(
        "retention_runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False),
            nullable=False,
        ),
        sa.Column("ran_at", tenants.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("years", sa.Integer(), nullable=False),
        sa.Column("closed_before", sa.Date(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
    )
    op.add_column(
        "clients",
        sa.Column("first_signed_at", tenants.schema.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index(op.f("ix_clients_first_signed_at"), "clients", ["first_signed_at"])
    for column in ("reached_at", "answered_at", "started_at"):
        op.add_column(
            "referrals",
            sa.Column(column, tenants.schema.UTCDateTime(timezone=True), nullable=True),
        )
    op.create_table(
        "figure_counts",
        sa.Column("metric", sa.String(length=30), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("office_id", sa.Uuid(), nullable=False),
        sa.Column("key1", sa.String(length=100), nullable=False),
        sa.Column("key2", sa.String(length=60), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "metric", "day", "office_id", "key1", "key2", name=op.f("pk_figure_counts")
        ),
    )
    op.create_table(
        "figure_values",
        sa.Column("metric", sa.String(length=30), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("office_id", sa.Uuid(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("metric", "subject_id", name=op.f("pk_figure_values")),
    )
    op.create_index("ix_figure_values_metric_day", "figure_values", ["metric", "day", "value"])
    statement = _BACKFILL.get(op.get_bind().dialect.name)
    if statement:
        op.execute(statement)
    # the counts of the cases already there (the code of this revision's time: it reads
    # only tables and columns that exist as of this revision)
    from services.agreements.figures.rebuild import rebuild

    rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_figure_values_metric_day", table_name="figure_values")
    op.drop_table("figure_values")
    op.drop_table("figure_counts")
    with op.batch_alter_table("referrals") as batch:
        for column in ("started_at", "answered_at", "reached_at"):
            batch.drop_column(column)
    op.drop_index(op.f("ix_clients_first_signed_at"), table_name="clients")
    op.drop_table("retention_runs")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("first_signed_at")
        batch.drop_column("personal_data_removed_at")
    op.drop_index(op.f("ix_agreements_closed_at"), table_name="agreements")
    op.drop_index(op.f("ix_agreements_created_at"), table_name="agreements")
    op.drop_index(op.f("ix_agreements_next_review_due"), table_name="agreements")
    with op.batch_alter_table("agreements") as batch:
        batch.drop_column("next_review_due")
        batch.drop_column("easier_to_keep_going")
        batch.drop_column("helped")
