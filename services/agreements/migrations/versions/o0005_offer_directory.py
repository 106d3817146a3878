"""offer directory (Open Referral HSDS 3), client postcode, a step's offer

The tenant's offers in the HSDS model (services/agreements/offers/models.py), the postcode a
client lives at (offers are ranked by distance from it), a step's link to the offer it takes
up, and the offers shown as suggestions (for the figures).

Free-text search over offers: on PostgreSQL German full text with unaccent and trigram
similarity for misspellings, both as expression indexes over ``search_text``. ``unaccent`` is
not immutable, so an index cannot call it; ``integra_unaccent`` wraps it with the dictionary
named, which is (the usual pattern). unaccent and pg_trgm are trusted extensions the database
owner may create. SQLite reads ``search_text`` (already folded at import) with LIKE.

Revision ID: o0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import tenants.schema

revision = "o0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = tenants.schema.UTCDateTime(timezone=True)

#: PostgreSQL-only expression indexes (tests/integration/test_migrations.py knows their names).
SEARCH_INDEXES = {
    "ix_offer_services_search_fts": "USING gin "
    "(to_tsvector('german'::regconfig, integra_unaccent(search_text)))",
    "ix_offer_services_search_trgm": "USING gin (integra_unaccent(lower(search_text)) "
    "gin_trgm_ops)",
}


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "offer_taxonomies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("document", JSON, nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_taxonomies")),
    )
    op.create_table(
        "offer_taxonomy_terms",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("taxonomy_id", sa.Uuid(), nullable=True),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("code", sa.String(length=200), nullable=True),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("document", JSON, nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["taxonomy_id"],
            ["offer_taxonomies.id"],
            name=op.f("fk_offer_taxonomy_terms_taxonomy_id_offer_taxonomies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_taxonomy_terms")),
    )
    op.create_index(
        "ix_offer_taxonomy_terms_taxonomy_code", "offer_taxonomy_terms", ["taxonomy_id", "code"]
    )
    op.create_index(
        op.f("ix_offer_taxonomy_terms_parent_id"), "offer_taxonomy_terms", ["parent_id"]
    )
    op.create_table(
        "offer_organizations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("document", JSON, nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_organizations")),
    )
    op.create_index(op.f("ix_offer_organizations_name"), "offer_organizations", ["name"])
    op.create_table(
        "offer_locations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("postal_code", sa.String(length=20), nullable=True),
        sa.Column("city", sa.String(length=200), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("coordinates_source", sa.String(length=10), nullable=True),
        sa.Column("document", JSON, nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["offer_organizations.id"],
            name=op.f("fk_offer_locations_organization_id_offer_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_locations")),
    )
    op.create_index(
        op.f("ix_offer_locations_organization_id"), "offer_locations", ["organization_id"]
    )
    op.create_index(op.f("ix_offer_locations_postal_code"), "offer_locations", ["postal_code"])
    op.create_table(
        "offer_services",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("minimum_age", sa.Float(), nullable=True),
        sa.Column("maximum_age", sa.Float(), nullable=True),
        sa.Column("childcare", sa.Boolean(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("free_places", sa.Integer(), nullable=True),
        sa.Column("wait_weeks", sa.Integer(), nullable=True),
        sa.Column("capacity_updated_at", TS, nullable=True),
        sa.Column("residence_mask", sa.Integer(), nullable=True),
        sa.Column("programme_mask", sa.Integer(), nullable=True),
        sa.Column("course_obligation", sa.String(length=10), nullable=True),
        sa.Column("day_parts", sa.Integer(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("document", JSON, nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["offer_organizations.id"],
            name=op.f("fk_offer_services_organization_id_offer_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_services")),
    )
    op.create_index(
        op.f("ix_offer_services_organization_id"), "offer_services", ["organization_id"]
    )
    op.create_table(
        "offer_service_fields",
        sa.Column("field", sa.String(length=20), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["offer_services.id"],
            name=op.f("fk_offer_service_fields_service_id_offer_services"),
        ),
        sa.PrimaryKeyConstraint("field", "service_id", name=op.f("pk_offer_service_fields")),
    )
    op.create_index(
        op.f("ix_offer_service_fields_service_id"), "offer_service_fields", ["service_id"]
    )
    op.create_table(
        "offer_service_terms",
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("taxonomy_term_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["offer_services.id"],
            name=op.f("fk_offer_service_terms_service_id_offer_services"),
        ),
        sa.ForeignKeyConstraint(
            ["taxonomy_term_id"],
            ["offer_taxonomy_terms.id"],
            name=op.f("fk_offer_service_terms_taxonomy_term_id_offer_taxonomy_terms"),
        ),
        sa.PrimaryKeyConstraint(
            "service_id", "taxonomy_term_id", name=op.f("pk_offer_service_terms")
        ),
    )
    op.create_index(
        op.f("ix_offer_service_terms_taxonomy_term_id"), "offer_service_terms", ["taxonomy_term_id"]
    )
    op.create_table(
        "offer_service_languages",
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["offer_services.id"],
            name=op.f("fk_offer_service_languages_service_id_offer_services"),
        ),
        sa.PrimaryKeyConstraint("service_id", "code", name=op.f("pk_offer_service_languages")),
    )
    op.create_table(
        "offer_service_at_locations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("document", JSON, nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["offer_locations.id"],
            name=op.f("fk_offer_service_at_locations_location_id_offer_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["offer_services.id"],
            name=op.f("fk_offer_service_at_locations_service_id_offer_services"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_service_at_locations")),
    )
    op.create_index(
        op.f("ix_offer_service_at_locations_location_id"),
        "offer_service_at_locations",
        ["location_id"],
    )
    op.create_index(
        op.f("ix_offer_service_at_locations_service_id"),
        "offer_service_at_locations",
        ["service_id"],
    )
    op.create_table(
        "offer_suggestions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False),
            nullable=False,
        ),
        sa.Column("at", TS, nullable=False),
        sa.Column("office_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("field", sa.String(length=20), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_suggestions")),
    )
    op.create_index("ix_offer_suggestions_at", "offer_suggestions", ["at"])

    op.add_column("clients", sa.Column("postal_code", sa.String(length=5), nullable=True))
    fk_name = op.f("fk_steps_offer_service_id_offer_services")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its reference in one ALTER (it has no ADD CONSTRAINT);
        # CHAR(32) is how SQLAlchemy's Uuid is stored there
        op.execute(
            f"ALTER TABLE steps ADD COLUMN offer_service_id CHAR(32) "
            f"CONSTRAINT {fk_name} REFERENCES offer_services (id)"
        )
    else:
        op.add_column("steps", sa.Column("offer_service_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(fk_name, "steps", "offer_services", ["offer_service_id"], ["id"])
    op.create_index(op.f("ix_steps_offer_service_id"), "steps", ["offer_service_id"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE FUNCTION integra_unaccent(text) RETURNS text "
            "LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT "
            "AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$"
        )
        for name, using in SEARCH_INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON offer_services {using}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in SEARCH_INDEXES:
            op.execute(f"DROP INDEX {name}")
        op.execute("DROP FUNCTION integra_unaccent(text)")
    op.drop_index(op.f("ix_steps_offer_service_id"), table_name="steps")
    # batch: SQLite drops a column that has a foreign key only by copying the table
    with op.batch_alter_table("steps") as batch:
        batch.drop_column("offer_service_id")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("postal_code")
    op.drop_index("ix_offer_suggestions_at", table_name="offer_suggestions")
    op.drop_table("offer_suggestions")
    for table in (
        "offer_service_at_locations",
        "offer_service_languages",
        "offer_service_terms",
        "offer_service_fields",
        "offer_services",
        "offer_locations",
        "offer_organizations",
        "offer_taxonomy_terms",
        "offer_taxonomies",
    ):
        op.drop_table(table)
