"""Suggestions: the tenant's offers of one goal field, ranked for one client, each with the
reasons it fits in words ("unterrichtet auf Arabisch, Kinderbetreuung vor Ort, 2 km, Plätze
frei").

The ranking runs in one SQL query over the offers of that field: offers the client cannot take
(inactive; outside the age range, the residence statuses, the § 44a rule or the programmes
their structured eligibility names) are left out, the rest are scored by the weights below and
the best are read. The reasons are then said of exactly the facts the score counted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Integer, and_, case, cast, exists, false, insert, literal, or_, select
from sqlalchemy.orm import Session

from ...db import utcnow
from ...models import Client, Office
from ...models.vocabulary import AgencyKind, GoalField
from ...operations import audit
from ...operations.scope import client_in_scope
from ...principal import Principal
from .. import derive, geo
from ..models import (
    OfferLocation,
    OfferOrganization,
    OfferService,
    OfferServiceAtLocation,
    OfferServiceField,
    OfferServiceLanguage,
    OfferSuggestion,
)
from . import catalogue
from .reasons import Reason, reasons_for

#: Points per fact (docs/offers.md, "Matching"). Distance: 3 within 2 km, 2 within 5 km, 1
#: within 15 km. Places: free places +2, a wait of 4 weeks or less +1, fully booked -3.
WEIGHTS = {"language": 4, "childcare": 3, "schedule": 2, "eligibility": 1}
DISTANCE_TIERS = ((2.0, 3), (5.0, 2), (15.0, 1))
SHORT_WAIT_WEEKS = 4
#: Candidate rows read per suggestion asked for (one service may be at several locations).
ROWS_PER_ITEM = 4


@dataclass(frozen=True)
class ClientFacts:
    """What matching knows of a client (nothing else of the case is read)."""

    languages: frozenset[str]  # besides German
    needs_childcare: bool
    point: tuple[float, float] | None
    age: int
    residence_status: str | None
    course_obligation: bool
    #: Programmes the client is known to belong to (derive.PROGRAMME_BITS).
    programmes: int


def _age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def client_facts(client: Client, office: Office | None, today: date) -> ClientFacts:
    household = client.household or {}
    needs_childcare = bool(household.get("children_under_three")) or bool(
        household.get("children") and household.get("single_parent")
    )
    programmes = derive.PROGRAMME_BITS.get((office.programme if office else "").lower(), 0)
    now = utcnow()
    consents = {c.recipient_kind for c in client.consents if c.is_valid_at(now)}
    if AgencyKind.JOBCENTER in consents or client.course_obligation_imposed_by == "jobcenter":
        programmes |= derive.PROGRAMME_BITS["sgb2"]
    if AgencyKind.ARBEITSAGENTUR in consents:
        programmes |= derive.PROGRAMME_BITS["sgb3"]
    return ClientFacts(
        languages=frozenset(code for code in client.languages if code != "de"),
        needs_childcare=needs_childcare,
        point=geo.postcode_point(client.postal_code),
        age=_age(client.birth_date, today),
        residence_status=client.residence_status,
        course_obligation=client.course_obligation,
        programmes=programmes,
    )


@dataclass
class Suggestion:
    service: OfferService
    provider: str
    location: OfferLocation | None
    distance_km: float | None
    score: int
    reasons: list[Reason] = field(default_factory=list)

    def summary(self, lang: str = "de") -> str:
        return ", ".join(reason.text(lang) for reason in self.reasons)


def _bits(column: Any, value: int) -> Any:
    return column.op("&")(value)


def ranked_query(
    facts: ClientFacts,
    field_name: str,
    *,
    day_parts: int = 0,
    text: str | None = None,
    session: Session | None = None,
) -> Any:
    """The SQL that filters and scores the offers of ``field_name`` for ``facts``."""
    S, L = OfferService, OfferLocation
    language = (
        exists().where(
            OfferServiceLanguage.service_id == S.id,
            OfferServiceLanguage.code.in_(sorted(facts.languages)),
        )
        if facts.languages
        else false()
    )
    childcare = and_(S.childcare, literal(facts.needs_childcare))
    if facts.point is not None:
        lat0, lon0 = facts.point
        squeeze = geo.math.cos(geo.math.radians(lat0))
        dlat, dlon = L.latitude - lat0, (L.longitude - lon0) * squeeze
        squared = dlat * dlat + dlon * dlon  # degrees², small distances
        tiers = [
            (squared <= (km / geo.KM_PER_DEGREE) ** 2, points) for km, points in DISTANCE_TIERS
        ]
        distance_points = case((L.latitude.is_(None), 0), *tiers, else_=0)
        nearness = case((L.latitude.is_(None), 1e9), else_=squared)
    else:
        distance_points, nearness = literal(0), literal(0)  # type: ignore[assignment]
    schedule = _bits(S.day_parts, day_parts) != 0 if day_parts else false()
    places = case(
        (S.free_places > 0, 2),
        (S.free_places == 0, -3),
        (S.wait_weeks <= SHORT_WAIT_WEEKS, 1),
        else_=0,
    )
    known = facts.programmes
    restricted = or_(
        S.minimum_age.is_not(None),
        S.maximum_age.is_not(None),
        S.residence_mask.is_not(None),
        S.course_obligation.is_not(None),
        S.programme_mask.is_not(None),
    )
    programme_known = or_(S.programme_mask.is_(None), _bits(S.programme_mask, known) != 0)
    residence_known = or_(S.residence_mask.is_(None), literal(facts.residence_status is not None))
    confirmed = and_(restricted, programme_known, residence_known)
    score = (
        cast(language, Integer) * WEIGHTS["language"]
        + cast(childcare, Integer) * WEIGHTS["childcare"]
        + distance_points
        + cast(schedule, Integer) * WEIGHTS["schedule"]
        + places
        + cast(confirmed, Integer) * WEIGHTS["eligibility"]
    ).label("score")
    query = (
        select(
            S, L, OfferOrganization.name, score, cast(language, Integer), cast(confirmed, Integer)
        )
        .join(
            OfferServiceField,
            and_(OfferServiceField.service_id == S.id, OfferServiceField.field == field_name),
        )
        .join(OfferOrganization, OfferOrganization.id == S.organization_id)
        .outerjoin(OfferServiceAtLocation, OfferServiceAtLocation.service_id == S.id)
        .outerjoin(L, L.id == OfferServiceAtLocation.location_id)
        .where(S.status == "active")
        .where(or_(S.minimum_age.is_(None), S.minimum_age <= facts.age))
        .where(or_(S.maximum_age.is_(None), S.maximum_age >= facts.age))
        .where(
            or_(S.course_obligation.is_distinct_from("required"), literal(facts.course_obligation))
        )
        # a programme restriction naming only counselling programmes is decided by the office
        .where(
            or_(
                S.programme_mask.is_(None),
                _bits(S.programme_mask, known) != 0,
                _bits(S.programme_mask, ~derive.OFFICE_PROGRAMMES & 0xFFFF) != 0,
            )
        )
        .order_by(score.desc(), nearness, S.name, S.id)
    )
    bit = derive.RESIDENCE_BITS.get(facts.residence_status or "")
    if bit:
        query = query.where(or_(S.residence_mask.is_(None), _bits(S.residence_mask, bit) != 0))
    if text and session is not None:
        query = query.where(catalogue.search_condition(session, text))
    return query


def suggest(
    session: Session,
    principal: Principal,
    client_id: uuid.UUID,
    field_name: str,
    *,
    day_parts: int = 0,
    text: str | None = None,
    limit: int = 10,
    record: bool = True,
) -> list[Suggestion]:
    """The best ``limit`` offers of ``field_name`` for the client, with their reasons.

    Reads the client in the principal's scope (404 otherwise), audits the read and records
    the offers shown (``OfferSuggestion``, for the figures) unless ``record`` is false.
    """
    GoalField(field_name)  # the schemas check it; a wrong one here is a programming error
    client = client_in_scope(session, principal, client_id)
    office = session.get(Office, client.office_id)
    facts = client_facts(client, office, utcnow().date())
    query = ranked_query(facts, field_name, day_parts=day_parts, text=text, session=session)
    suggestions: list[Suggestion] = []
    seen: set[uuid.UUID] = set()
    for service, location, provider, score, language, confirmed in session.execute(
        query.limit(limit * ROWS_PER_ITEM)
    ):
        if service.id in seen:
            continue
        seen.add(service.id)
        point = (
            (location.latitude, location.longitude)
            if location and location.latitude is not None
            else None
        )
        distance = geo.distance_km(facts.point, point) if facts.point and point else None
        suggestions.append(
            Suggestion(
                service,
                provider,
                location,
                distance,
                int(score),
                reasons_for(
                    service, facts, field_name, distance, day_parts, bool(language), bool(confirmed)
                ),
            )
        )
        if len(suggestions) == limit:
            break
    audit.record(
        session,
        principal,
        "read",
        "client_suggestions",
        client.id,
        client.id,
        field=field_name,
        shown=len(suggestions),
    )
    if record and suggestions:
        now = utcnow()
        session.execute(
            insert(OfferSuggestion),
            [
                {
                    "at": now,
                    "office_id": client.office_id,
                    "client_id": client.id,
                    "field": field_name,
                    "service_id": s.service.id,
                    "position": n,
                }
                for n, s in enumerate(suggestions, start=1)
            ],
        )
    return suggestions
