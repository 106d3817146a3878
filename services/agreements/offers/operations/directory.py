"""Importing offers: HSDS organizations with their locations and services (and the taxonomy
terms they link) into the tenant's directory, all or nothing.

A batch is checked whole before anything is written (``import_checks``); any problem refuses it
and the caller's transaction then holds nothing of it. This module writes a checked batch to the
tables and counts what it created and updated. Importing a record again updates it by id.
Services missing from a re-imported organization stay as they are (retire one by importing it
with status ``inactive`` or ``defunct``): steps may link them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ...operations import audit
from ...principal import Principal
from .. import derive, geo, taxonomy
from ..models import (
    OfferLocation,
    OfferOrganization,
    OfferService,
    OfferServiceAtLocation,
    OfferServiceField,
    OfferServiceLanguage,
    OfferServiceTerm,
    OfferTaxonomy,
    OfferTaxonomyTerm,
)
from .import_checks import CheckedBatch, Row, as_uuid, check_batch, existing_rows


@dataclass
class ImportResult:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, created: bool) -> None:
        target = self.created if created else self.updated
        target[kind] = target.get(kind, 0) + 1


def import_directory(
    session: Session,
    principal: Principal,
    organizations: list[Any],
    *,
    taxonomies: Sequence[Any] = (),
    terms: Sequence[Any] = (),
    single: bool = False,
) -> ImportResult:
    """Check and apply a batch (flushes, never commits); ``single``: the batch was one
    organization object, so paths start at its fields (``services[1].status``)."""
    batch = check_batch(session, list(organizations), list(taxonomies), list(terms), single)
    taxonomy.ensure_taxonomy(session)
    result = ImportResult()
    _apply_taxonomies(session, batch, result)
    resolved_terms = _apply_terms(session, batch, result)
    field_of_term = _fields_by_term(session)
    for organization in batch.organizations:
        _apply_organization(session, organization, batch, resolved_terms, field_of_term, result)
    session.flush()
    audit.record(
        session,
        principal,
        "import",
        "offer_directory",
        None,
        None,
        created=result.created,
        updated=result.updated,
    )
    return result


def _upsert(
    session: Session,
    model: type[Row],
    existing: dict[str, Row],
    ident: str,
    result: ImportResult,
    kind: str,
    **values: Any,
) -> Row:
    row = existing.get(ident)
    if row is None:
        row = model(id=as_uuid(ident), **values)
        session.add(row)
        existing[ident] = row
        result.count(kind, True)
    else:
        for key, value in values.items():
            setattr(row, key, value)
        result.count(kind, False)
    return row


def _without(document: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in keys}


def _apply_taxonomies(session: Session, batch: CheckedBatch, result: ImportResult) -> None:
    existing = existing_rows(session, OfferTaxonomy, batch.taxonomies)
    for ident, document in batch.taxonomies.items():
        if as_uuid(ident) == taxonomy.INTEGRA_TAXONOMY_ID:
            continue  # the tenant's own taxonomy is Integra's
        _upsert(
            session,
            OfferTaxonomy,
            existing,
            ident,
            result,
            "taxonomy",
            name=document["name"],
            document=document,
        )


def _declared_taxonomy(term: dict[str, Any]) -> str | None:
    detail = term.get("taxonomy_detail")
    if isinstance(detail, dict) and detail.get("id"):
        return str(detail["id"])
    return str(term["taxonomy_id"]) if term.get("taxonomy_id") else None


def _apply_terms(
    session: Session, batch: CheckedBatch, result: ImportResult
) -> dict[str, uuid.UUID]:
    """Store the batch's terms; returns each term id of the batch → the stored term's id (a
    nested term of the tenant's taxonomy that is not known by id is matched by its code)."""
    existing = existing_rows(session, OfferTaxonomyTerm, batch.terms)
    resolved: dict[str, uuid.UUID] = {}
    own = str(taxonomy.INTEGRA_TAXONOMY_ID)
    for ident, document in batch.terms.items():
        declared = _declared_taxonomy(document)
        if ident not in existing and declared in (None, own) and document.get("code"):
            match = taxonomy.term_by_code(session, str(document["code"]))
            if match is not None:
                resolved[ident] = match.id
                continue
        row = existing.get(ident)
        if row is not None and taxonomy.is_field_term(row):
            resolved[ident] = row.id  # the goal fields are Integra's, never renamed by a feed
            continue
        stored = _without(document, "taxonomy_detail")
        if declared:
            stored["taxonomy_id"] = declared
        taxonomy_id = as_uuid(declared) if declared else None
        if taxonomy_id is not None and session.get(OfferTaxonomy, taxonomy_id) is None:
            taxonomy_id = None  # named but not given: kept in the document only
        term = _upsert(
            session,
            OfferTaxonomyTerm,
            existing,
            ident,
            result,
            "taxonomy_term",
            taxonomy_id=taxonomy_id,
            code=document.get("code"),
            name=document["name"],
            parent_id=as_uuid(document["parent_id"]) if document.get("parent_id") else None,
            document=stored,
        )
        resolved[ident] = term.id
    session.flush()
    return resolved


def _fields_by_term(session: Session) -> dict[uuid.UUID, str]:
    """Each term of the tenant's taxonomy → the goal field it is, or is below."""
    rows = session.execute(
        select(OfferTaxonomyTerm.id, OfferTaxonomyTerm.code, OfferTaxonomyTerm.parent_id).where(
            OfferTaxonomyTerm.taxonomy_id == taxonomy.INTEGRA_TAXONOMY_ID
        )
    ).all()
    parent = {row.id: row.parent_id for row in rows}
    code = {row.id: row.code for row in rows}
    fields = {str(f) for f in taxonomy.GoalField}
    found: dict[uuid.UUID, str] = {}
    for term in parent:
        current: uuid.UUID | None = term
        steps = 0
        while current is not None and steps < 20:
            if code.get(current) in fields:
                found[term] = str(code[current])
                break
            current, steps = parent.get(current), steps + 1
    return found


def _location_values(location: dict[str, Any], organization_id: Any) -> dict[str, Any]:
    addresses = [a for a in location.get("addresses") or [] if isinstance(a, dict)]
    address = next(
        (a for a in addresses if a.get("address_type") == "physical"),
        addresses[0] if addresses else {},
    )
    postal_code = address.get("postal_code")
    latitude, longitude = location.get("latitude"), location.get("longitude")
    source = "hsds" if latitude is not None and longitude is not None else None
    if source is None and address.get("country") in (None, "DE", "de", "DEU"):
        point = geo.postcode_point(postal_code)
        if point is not None:
            (latitude, longitude), source = point, "postcode"
    street = ", ".join(str(p) for p in (address.get("address_1"), address.get("address_2")) if p)
    return {
        "organization_id": as_uuid(organization_id) if organization_id else None,
        "name": location.get("name"),
        "address": street or None,
        "postal_code": postal_code,
        "city": address.get("city"),
        "latitude": latitude if source else None,
        "longitude": longitude if source else None,
        "coordinates_source": source,
        "document": location,
    }


def _apply_organization(
    session: Session,
    organization: dict[str, Any],
    batch: CheckedBatch,
    resolved_terms: dict[str, uuid.UUID],
    field_of_term: dict[uuid.UUID, str],
    result: ImportResult,
) -> None:
    ident = str(organization["id"])
    existing_orgs = existing_rows(session, OfferOrganization, [ident])
    _upsert(
        session,
        OfferOrganization,
        existing_orgs,
        ident,
        result,
        "organization",
        name=organization["name"],
        document=_without(organization, "locations", "services"),
    )
    session.flush()
    own_locations = {i: loc for i, (org, loc) in batch.locations.items() if str(org) == ident}
    existing_locations = existing_rows(session, OfferLocation, own_locations)
    for location_id, location in own_locations.items():
        _upsert(
            session,
            OfferLocation,
            existing_locations,
            location_id,
            result,
            "location",
            **_location_values(location, ident),
        )
    session.flush()
    services = [s for s in organization.get("services") or [] if isinstance(s, dict)]
    existing_services = existing_rows(session, OfferService, [str(s["id"]) for s in services])
    stale = [row.id for row in existing_services.values()]
    if stale:
        for model in (OfferServiceField, OfferServiceTerm, OfferServiceLanguage):
            session.execute(delete(model).where(model.service_id.in_(stale)))
    for service in services:
        _apply_service(
            session, service, organization, existing_services, resolved_terms, field_of_term, result
        )


def _apply_service(
    session: Session,
    service: dict[str, Any],
    organization: dict[str, Any],
    existing: dict[str, OfferService],
    resolved_terms: dict[str, uuid.UUID],
    field_of_term: dict[uuid.UUID, str],
    result: ImportResult,
) -> None:
    ident = str(service["id"])
    attributes = []
    term_ids: set[uuid.UUID] = set()
    for attribute in service.get("attributes") or []:
        stored = _without(attribute, "taxonomy_term")
        nested = attribute.get("taxonomy_term")
        raw = (nested or {}).get("id") or attribute.get("taxonomy_term_id")
        if raw:
            term = resolved_terms.get(str(raw), as_uuid(raw))
            stored["taxonomy_term_id"] = str(term)
            term_ids.add(term)
        attributes.append(stored)
    at_locations = [a for a in service.get("service_at_locations") or [] if isinstance(a, dict)]
    document = _without(service, "service_at_locations", "organization")
    if "attributes" in service:
        document["attributes"] = attributes
    schedules = derive.schedules_of(service)
    term_names = list(
        session.scalars(select(OfferTaxonomyTerm.name).where(OfferTaxonomyTerm.id.in_(term_ids)))
    )
    places = []
    location_ids = [str(a.get("location_id") or a["location"]["id"]) for a in at_locations]
    for location in existing_rows(session, OfferLocation, location_ids).values():
        places += [location.city or "", location.postal_code or ""]
    row = _upsert(
        session,
        OfferService,
        existing,
        ident,
        result,
        "service",
        organization_id=as_uuid(organization["id"]),
        name=service["name"],
        status=service["status"],
        minimum_age=service.get("minimum_age"),
        maximum_age=service.get("maximum_age"),
        childcare=bool(service.get("integra_childcare")),
        capacity=service.get("integra_capacity"),
        free_places=service.get("integra_free_places"),
        wait_weeks=service.get("integra_wait_weeks"),
        capacity_updated_at=_timestamp(service.get("integra_capacity_updated")),
        residence_mask=derive.mask(
            service.get("integra_residence_statuses"), derive.RESIDENCE_BITS
        ),
        programme_mask=derive.mask(service.get("integra_programmes"), derive.PROGRAMME_BITS),
        course_obligation=service.get("integra_course_obligation"),
        day_parts=derive.day_parts(schedules),
        search_text=derive.search_text(service, organization["name"], term_names, places),
        document=document,
    )
    session.flush()
    session.add_all(OfferServiceTerm(service_id=row.id, taxonomy_term_id=t) for t in term_ids)
    fields = {field_of_term[t] for t in term_ids if t in field_of_term}
    session.add_all(OfferServiceField(service_id=row.id, field=f) for f in sorted(fields))
    session.add_all(
        OfferServiceLanguage(service_id=row.id, code=c)
        for c in sorted(derive.language_codes(service))
    )
    _apply_service_at_locations(session, row, at_locations, result)


def _apply_service_at_locations(
    session: Session,
    service: OfferService,
    at_locations: list[dict[str, Any]],
    result: ImportResult,
) -> None:
    keep = {str(a["id"]) for a in at_locations}
    current = list(
        session.scalars(
            select(OfferServiceAtLocation).where(OfferServiceAtLocation.service_id == service.id)
        )
    )
    existing = {str(row.id): row for row in current}
    for row in current:
        if str(row.id) not in keep:
            session.delete(row)
    for at_location in at_locations:
        location_id = at_location.get("location_id") or at_location["location"]["id"]
        document = _without(at_location, "location")
        document["location_id"] = str(location_id)
        _upsert(
            session,
            OfferServiceAtLocation,
            existing,
            str(at_location["id"]),
            result,
            "service_at_location",
            service_id=service.id,
            location_id=as_uuid(location_id),
            document=document,
        )


def _timestamp(value: Any) -> Any:
    from datetime import UTC, datetime

    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
