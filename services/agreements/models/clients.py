from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, JSONType, Timestamps, UTCDateTime, UUIDPrimaryKey
from .name_search import search_key

if TYPE_CHECKING:
    from .offices import Office


class Client(UUIDPrimaryKey, Timestamps, Base):
    """The newly arrived person; their case belongs to one office."""

    __tablename__ = "clients"
    __table_args__ = (
        # the client list's order within an office (PostgreSQL also has trigram indexes on
        # the lower-cased names for search; see migration 0003)
        Index("ix_clients_office_name", "office_id", "family_name", "given_name", "id"),
        # the dashboard's "cases of the office", most recently changed first
        Index("ix_clients_office_updated", "office_id", "updated_at"),
    )

    office_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offices.id"), index=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date]
    country_of_origin: Mapped[str] = mapped_column(String(2))
    languages: Mapped[list[str]] = mapped_column(JSONType)
    arrival_date: Mapped[date]
    household: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    residence_status: Mapped[str | None] = mapped_column(String(40))
    #: § 44a AufenthG obligation to attend an integration course, and who imposed it.
    course_obligation: Mapped[bool] = mapped_column(default=False)
    course_obligation_imposed_by: Mapped[str | None] = mapped_column(String(30))
    #: Special category (health): flagged, minimised, never sent without explicit consent.
    health_notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    #: Where the client lives (German postcode): offers are ranked by distance from it.
    postal_code: Mapped[str | None] = mapped_column(String(5))
    #: Set by the retention rule when the case's personal data was deleted or anonymised;
    #: what is left is what the figures count (see ``services.agreements.retention``).
    personal_data_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the person's first agreement got its second signature (the figures' "first
    #: contact → signed agreement" reads it beside ``created_at``).
    first_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    #: The counsellor responsible for the case ("Meine Fälle"); set to whoever registers the
    #: client in the portal, handed over by an office lead. None: nobody yet (e.g. created
    #: through the API, or before migration 0008 could tell).
    responsible_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: Given and family name without accents and case, for search (``models.name_search``);
    #: kept by the ORM on every write, emptied with the names by the retention rule.
    search_name: Mapped[str] = mapped_column(String(201), default="")

    office: Mapped[Office] = relationship(lazy="raise")
    consents: Mapped[list[Consent]] = relationship(
        back_populates="client", order_by="Consent.created_at", lazy="selectin"
    )


@event.listens_for(Client, "before_insert")
@event.listens_for(Client, "before_update")
def _keep_search_name(_mapper: object, _connection: object, client: Client) -> None:
    client.search_name = search_key(client.given_name, client.family_name)


class Consent(UUIDPrimaryKey, Timestamps, Base):
    """Consent to pass named data categories to one agency kind for named purposes."""

    __tablename__ = "consents"

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"), index=True)
    recipient_kind: Mapped[str] = mapped_column(String(30))
    purposes: Mapped[list[str]] = mapped_column(JSONType)
    data_categories: Mapped[list[str]] = mapped_column(JSONType)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))

    client: Mapped[Client] = relationship(back_populates="consents", lazy="raise")

    def is_valid_at(self, moment: datetime) -> bool:
        if self.revoked_at is not None and self.revoked_at <= moment:
            return False
        if self.signed_at > moment:
            return False
        return self.expires_at is None or self.expires_at > moment
