"""Reading the directory: free-text search (PostgreSQL: German full text with unaccent, and
trigram word similarity for misspellings; SQLite: folded word prefixes) and offers described
in a line for pages, documents and the suggestions."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import Session

from .. import derive
from ..models import OfferLocation, OfferOrganization, OfferService, OfferServiceAtLocation

_GERMAN: Any = literal_column("'german'::regconfig")


def search_condition(session: Session, text: str) -> ColumnElement[bool]:
    """Offers whose name, description, provider, kinds or places match ``text``.

    The PostgreSQL expressions are exactly those of the indexes of migration o0005.
    """
    folded = derive.fold(text.strip())
    if session.get_bind().dialect.name == "postgresql":
        document = func.to_tsvector(_GERMAN, func.integra_unaccent(OfferService.search_text))
        query = func.websearch_to_tsquery(_GERMAN, func.integra_unaccent(text))
        similar = literal(folded).op("<%")(
            func.integra_unaccent(func.lower(OfferService.search_text))
        )
        return or_(document.op("@@")(query), similar)
    words = [w for w in re.split(r"\W+", folded) if w]
    if not words:
        # Text without a letter or digit ("®", "--"): nothing to search for, so nothing
        # matches, as on PostgreSQL (no lexeme, no trigram). An AND of no words would match
        # everything, and SQLAlchemy deprecates it.
        return false()
    spaced = literal(" ").concat(OfferService.search_text)
    return and_(*(spaced.like(f"% {_escape(w)}%", escape="\\") for w in words))


def _escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class OfferSummary:
    """An offer as pages and the agreement PDF name it: what, who, where, when."""

    id: uuid.UUID
    name: str
    provider: str
    address: str
    times: str
    times_en: str
    status: str

    def line(self, lang: str = "de") -> str:
        times = self.times_en if lang == "en" else self.times
        return " – ".join(part for part in (self.name, self.provider, self.address, times) if part)


def address_line(location: OfferLocation | None) -> str:
    if location is None:
        return ""
    place = " ".join(p for p in (location.postal_code, location.city) if p)
    return ", ".join(p for p in (location.address, place) if p)


def describe_offers(
    session: Session, ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, OfferSummary]:
    """Summaries of the given offers (unknown ids are left out), two queries in all."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(
        select(OfferService, OfferOrganization.name)
        .join(OfferOrganization, OfferOrganization.id == OfferService.organization_id)
        .where(OfferService.id.in_(wanted))
    ).all()
    places: dict[uuid.UUID, tuple[OfferServiceAtLocation, OfferLocation]] = {}
    for at_location, location in session.execute(
        select(OfferServiceAtLocation, OfferLocation)
        .join(OfferLocation, OfferLocation.id == OfferServiceAtLocation.location_id)
        .where(OfferServiceAtLocation.service_id.in_(wanted))
        .order_by(OfferServiceAtLocation.id)
    ):
        places.setdefault(at_location.service_id, (at_location, location))
    found = {}
    for service, provider in rows:
        place = places.get(service.id)
        schedules = list(service.document.get("schedules") or [])
        if place is not None:
            schedules += place[0].document.get("schedules") or []
        found[service.id] = OfferSummary(
            id=service.id,
            name=service.name,
            provider=provider,
            address=address_line(place[1] if place else None),
            times=derive.times_in_words(schedules, "de"),
            times_en=derive.times_in_words(schedules, "en"),
            status=service.status,
        )
    return found


def offer_choices(session: Session, field: str | None, *, limit: int = 200) -> list[Any]:
    """Active offers of a field (for a step's offer list where no suggestion is wanted)."""
    from ..models import OfferServiceField

    query = select(OfferService.id, OfferService.name).where(OfferService.status == "active")
    if field:
        query = query.join(OfferServiceField, OfferServiceField.service_id == OfferService.id)
        query = query.where(OfferServiceField.field == field)
    return list(session.execute(query.order_by(OfferService.name).limit(limit)))
