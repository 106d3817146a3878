"""The offer directory's tables: the HSDS 3 model, kept in the tenant's own database.

Each HSDS object that matching or the read API looks into has a row with the columns they
need; the object itself, as imported (with the HSDS parts that nothing queries: phones,
contacts, addresses, cost options, service areas, funding, ...), is kept in ``document``, so an
export gives back what was imported. Columns below ``document`` are derived from it at import
(``operations.store``): never edited on their own.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JSONType, SerialPrimaryKey, Timestamps, UTCDateTime


class OfferTaxonomy(Timestamps, Base):
    """An HSDS taxonomy; the tenant's own one (``taxonomy.INTEGRA_TAXONOMY_ID``) holds the
    goal fields and the offer kinds below them."""

    __tablename__ = "offer_taxonomies"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)


class OfferTaxonomyTerm(Timestamps, Base):
    """An HSDS taxonomy term. ``parent_id`` is not a foreign key: HSDS data often names parents
    of other directories' taxonomies that are not imported."""

    __tablename__ = "offer_taxonomy_terms"
    __table_args__ = (Index("ix_offer_taxonomy_terms_taxonomy_code", "taxonomy_id", "code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    taxonomy_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("offer_taxonomies.id"))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    code: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(500))
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)


class OfferOrganization(Timestamps, Base):
    """An HSDS organization (a provider: Kursträger, Kita, Jobcenter, ...)."""

    __tablename__ = "offer_organizations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(500), index=True)
    #: The organization without its locations and services (they have rows of their own).
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)


class OfferLocation(Timestamps, Base):
    """An HSDS location with its address and coordinates (HSDS's own, or the postcode's
    centroid from the vendored table when HSDS gives none: ``coordinates_source``)."""

    __tablename__ = "offer_locations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("offer_organizations.id"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(500))
    address: Mapped[str | None] = mapped_column(String(500))
    postal_code: Mapped[str | None] = mapped_column(String(20), index=True)
    city: Mapped[str | None] = mapped_column(String(200))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    coordinates_source: Mapped[str | None] = mapped_column(String(10))
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)


class OfferService(Timestamps, Base):
    """An HSDS service: one offer. Derived columns serve matching and the read API."""

    __tablename__ = "offer_services"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("offer_organizations.id"), index=True
    )
    name: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(30))
    minimum_age: Mapped[float | None] = mapped_column(Float)
    maximum_age: Mapped[float | None] = mapped_column(Float)
    #: Integra's extensions (docs/offers.md): childcare on site, capacity, eligibility.
    childcare: Mapped[bool] = mapped_column(default=False)
    capacity: Mapped[int | None]
    free_places: Mapped[int | None]
    wait_weeks: Mapped[int | None]
    capacity_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Bit sets (``matching.eligibility``): admitted residence statuses and programmes; None =
    #: no restriction. ``course_obligation``: "required" or "admitted" (§ 44a AufenthG).
    residence_mask: Mapped[int | None]
    programme_mask: Mapped[int | None]
    course_obligation: Mapped[str | None] = mapped_column(String(10))
    #: When it runs (``schedules.DayPart`` bits, from its and its locations' schedules).
    day_parts: Mapped[int] = mapped_column(default=0)
    #: Name, description, provider and kinds: what free-text search reads (docs/offers.md).
    search_text: Mapped[str] = mapped_column(Text, default="")
    #: The service without its service_at_locations (rows of their own).
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)


class OfferServiceField(Base):
    """Which goal fields a service serves (from the taxonomy terms its attributes link)."""

    __tablename__ = "offer_service_fields"

    field: Mapped[str] = mapped_column(String(20), primary_key=True)
    service_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("offer_services.id"), primary_key=True, index=True
    )


class OfferServiceTerm(Base):
    """The taxonomy terms a service's attributes link (the read API filters by them)."""

    __tablename__ = "offer_service_terms"

    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offer_services.id"), primary_key=True)
    taxonomy_term_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("offer_taxonomy_terms.id"), primary_key=True, index=True
    )


class OfferServiceLanguage(Base):
    """The languages a service is offered in (ISO 639 codes of its HSDS languages)."""

    __tablename__ = "offer_service_languages"

    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offer_services.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(10), primary_key=True)


class OfferServiceAtLocation(Timestamps, Base):
    """Where a service is delivered (HSDS service_at_location)."""

    __tablename__ = "offer_service_at_locations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offer_services.id"), index=True)
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offer_locations.id"), index=True)
    #: The service_at_location without its nested location (``location_id`` names it).
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)


class OfferSuggestion(SerialPrimaryKey, Base):
    """One offer shown to a counsellor for a client's goal field (for the figures)."""

    __tablename__ = "offer_suggestions"
    __table_args__ = (Index("ix_offer_suggestions_at", "at"),)

    at: Mapped[datetime] = mapped_column(UTCDateTime)
    office_id: Mapped[uuid.UUID]
    client_id: Mapped[uuid.UUID]
    field: Mapped[str] = mapped_column(String(20))
    service_id: Mapped[uuid.UUID]
    position: Mapped[int]
