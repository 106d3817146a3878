"""The HSDS 3 read API under ``/t/<tenant>/hsds/``: the tenant's offers, open for GET
without login and with CORS (as the UK profile expects), nothing but offers reachable.

Paths: ``/`` (about), ``/openapi.json``, ``/services`` (HSDS's paged service_list),
``/services/{id}`` (a fully nested service, valid against service_with_definitions.json),
``/organizations[/{id}]``, ``/taxonomies[/{id}]``, ``/taxonomy_terms[/{id}]`` and
``/service_at_locations[/{id}]`` (``postcode``, ``proximity`` in metres). Filters combine
with AND.
"""

from __future__ import annotations

import json
import math
import uuid
from typing import Any, TypeVar

from flask import Blueprint, Response, abort, jsonify, request
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from ..context import db_session, tenant_context
from . import geo
from .models import (
    OfferLocation,
    OfferOrganization,
    OfferService,
    OfferServiceAtLocation,
    OfferServiceTerm,
    OfferTaxonomy,
    OfferTaxonomyTerm,
)
from .operations import catalogue, exchange
from .validation import SCHEMA_DIR

HSDS_VERSION = "3.0"
MAX_PER_PAGE = 200
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Accept",
    "Access-Control-Max-Age": "86400",
    "Cross-Origin-Resource-Policy": "cross-origin",
}


def _error(status: int, code: str, de: str, en: str) -> Response:
    response = jsonify({"code": code, "message": {"de": de, "en": en}})
    response.status_code = status
    return response


#: What a 404 says for each kind of row the API serves by id: code, German, English.
_NOT_FOUND: dict[type[Any], tuple[str, str, str]] = {
    OfferService: ("service_not_found", "Angebot nicht gefunden.", "Service not found."),
    OfferOrganization: (
        "organization_not_found",
        "Träger nicht gefunden.",
        "Organization not found.",
    ),
    OfferTaxonomy: ("taxonomy_not_found", "Taxonomie nicht gefunden.", "Taxonomy not found."),
    OfferTaxonomyTerm: (
        "taxonomy_term_not_found",
        "Begriff nicht gefunden.",
        "Taxonomy term not found.",
    ),
    OfferServiceAtLocation: ("service_at_location_not_found", "Nicht gefunden.", "Not found."),
}

Row = TypeVar("Row")


def _found(session: Session, model: type[Row], object_id: uuid.UUID) -> Row:
    """The ``model`` row ``object_id``; a 404 in the API's error format if there is none."""
    row = session.get(model, object_id)
    if row is None:
        abort(_error(404, *_NOT_FOUND[model]))
    return row


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(
            _error(400, "invalid_parameter", f"{name} ist keine Zahl.", f"{name} is not a number.")
        )
    return max(low, min(high, value))


def _uuid_arg(name: str) -> uuid.UUID | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        abort(_error(400, "invalid_parameter", f"{name} ist keine UUID.", f"{name} is not a UUID."))


def _page(session: Session, query: Any, render: Any) -> dict[str, Any]:
    page = _int_arg("page", 1, 1, 1_000_000)
    per_page = _int_arg("per_page", 50, 1, MAX_PER_PAGE)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = list(session.execute(query.limit(per_page).offset((page - 1) * per_page)))
    pages = max(1, math.ceil(total / per_page))
    contents = render([row[0] if len(row) == 1 else row for row in rows])
    return {
        "total_items": total,
        "total_pages": pages,
        "page_number": page,
        "size": len(contents),
        "first_page": page == 1,
        "last_page": page >= pages,
        "empty": not contents,
        "contents": contents,
    }


def _one_to_one(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if not isinstance(v, list | dict)}


def _organization_brief(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, Any]:
    if not ids:
        return {}
    rows = session.scalars(select(OfferOrganization).where(OfferOrganization.id.in_(ids)))
    return {row.id: {**_one_to_one(row.document), "id": str(row.id)} for row in rows}


def _service_query(session: Session) -> Select[Any]:
    query = select(OfferService)
    if text := request.args.get("search"):
        query = query.where(catalogue.search_condition(session, text))
    if term := _uuid_arg("taxonomy_term_id"):
        query = query.where(
            OfferService.id.in_(
                select(OfferServiceTerm.service_id).where(OfferServiceTerm.taxonomy_term_id == term)
            )
        )
    if taxonomy_id := _uuid_arg("taxonomy_id"):
        query = query.where(
            OfferService.id.in_(
                select(OfferServiceTerm.service_id)
                .join(OfferTaxonomyTerm, OfferTaxonomyTerm.id == OfferServiceTerm.taxonomy_term_id)
                .where(OfferTaxonomyTerm.taxonomy_id == taxonomy_id)
            )
        )
    if organization_id := _uuid_arg("organization_id"):
        query = query.where(OfferService.organization_id == organization_id)
    if modified := request.args.get("modified_after"):
        from datetime import UTC, datetime

        try:
            since = datetime.fromisoformat(modified.replace("Z", "+00:00"))
        except ValueError:
            abort(
                _error(
                    400,
                    "invalid_parameter",
                    "modified_after ist kein Zeitpunkt.",
                    "modified_after is not a datetime.",
                )
            )
        query = query.where(
            OfferService.updated_at >= (since if since.tzinfo else since.replace(tzinfo=UTC))
        )
    return query.order_by(OfferService.name, OfferService.id)


def full_service(session: Session, service: OfferService) -> dict[str, Any]:
    """A service with everything HSDS nests in it (service_with_definitions.json)."""
    pairs = session.execute(
        select(OfferServiceAtLocation, OfferLocation)
        .join(OfferLocation, OfferLocation.id == OfferServiceAtLocation.location_id)
        .where(OfferServiceAtLocation.service_id == service.id)
        .order_by(OfferServiceAtLocation.id)
    ).all()
    at_locations = [{**at.document, "location": location.document} for at, location in pairs]
    term_ids = {
        a["taxonomy_term_id"]
        for a in service.document.get("attributes") or []
        if a.get("taxonomy_term_id")
    }
    document = exchange.service_document(
        service, at_locations, exchange.nested_terms(session, term_ids)
    )
    organization = session.get(OfferOrganization, service.organization_id)
    if organization is not None:
        document["organization"] = _one_to_one(organization.document)
    return document


def make_hsds_blueprint() -> Blueprint:
    """Built per app; registered at ``/hsds`` by ``create_app``."""
    bp = Blueprint("hsds", __name__, url_prefix="/hsds")

    # Preflight: Flask answers OPTIONS for each route itself; the headers come from here.
    @bp.after_request
    def _cors(response: Response) -> Response:
        for name, value in CORS.items():
            response.headers[name] = value
        response.headers.setdefault("Cache-Control", "public, max-age=60")
        return response

    @bp.get("/")
    def about() -> Any:
        return {
            "version": HSDS_VERSION,
            "profile": "https://github.com/openreferral/specification/tree/3.0",
            "openapi_url": request.url_root.rstrip("/") + "/hsds/openapi.json",
        }

    @bp.get("/openapi.json")
    def openapi() -> Any:
        document = json.loads((SCHEMA_DIR / "openapi.json").read_text("utf-8"))
        tenant = tenant_context().tenant
        document["info"] = {
            "title": f"Integra – Angebote {tenant.name} (HSDS 3)",
            "version": HSDS_VERSION,
            "license": {
                "name": "CC BY-SA 4.0 (HSDS)",
                "url": "https://creativecommons.org/licenses/by-sa/4.0/",
            },
        }
        document["servers"] = [{"url": f"{request.script_root}/hsds"}]
        return document

    @bp.get("/services")
    def services() -> Any:
        session = db_session()

        def render(rows: list[OfferService]) -> list[Any]:
            orgs = _organization_brief(session, {r.organization_id for r in rows})
            return [
                {
                    **_one_to_one(r.document),
                    "id": str(r.id),
                    "organization_id": str(r.organization_id),
                    "organization": orgs.get(r.organization_id),
                }
                for r in rows
            ]

        return _page(session, _service_query(session), render)

    @bp.get("/services/<uuid:service_id>")
    def service(service_id: uuid.UUID) -> Any:
        session = db_session()
        return full_service(session, _found(session, OfferService, service_id))

    @bp.get("/organizations")
    def organizations() -> Any:
        session = db_session()
        query = select(OfferOrganization).order_by(OfferOrganization.name, OfferOrganization.id)
        if text := request.args.get("search"):
            query = query.where(OfferOrganization.name.ilike(f"%{text}%"))
        return _page(
            session,
            query,
            lambda rows: [{**_one_to_one(r.document), "id": str(r.id)} for r in rows],
        )

    @bp.get("/organizations/<uuid:organization_id>")
    def organization(organization_id: uuid.UUID) -> Any:
        session = db_session()
        row = _found(session, OfferOrganization, organization_id)
        document = dict(row.document)
        locations = session.scalars(
            select(OfferLocation)
            .where(OfferLocation.organization_id == row.id)
            .order_by(OfferLocation.id)
        )
        document["locations"] = [loc.document for loc in locations]
        document["services"] = [
            {"id": str(s.id), "name": s.name, "status": s.status}
            for s in session.scalars(
                select(OfferService)
                .where(OfferService.organization_id == row.id)
                .order_by(OfferService.name)
            )
        ]
        return document

    @bp.get("/taxonomies")
    def taxonomies() -> Any:
        session = db_session()
        query = select(OfferTaxonomy).order_by(OfferTaxonomy.name, OfferTaxonomy.id)
        return _page(session, query, lambda rows: [r.document for r in rows])

    @bp.get("/taxonomies/<uuid:taxonomy_id>")
    def taxonomy(taxonomy_id: uuid.UUID) -> Any:
        return _found(db_session(), OfferTaxonomy, taxonomy_id).document

    @bp.get("/taxonomy_terms")
    def taxonomy_terms() -> Any:
        session = db_session()
        query = select(OfferTaxonomyTerm).order_by(OfferTaxonomyTerm.name, OfferTaxonomyTerm.id)
        if taxonomy_id := _uuid_arg("taxonomy_id"):
            query = query.where(OfferTaxonomyTerm.taxonomy_id == taxonomy_id)
        if parent_id := _uuid_arg("parent_id"):
            query = query.where(OfferTaxonomyTerm.parent_id == parent_id)
        if request.args.get("top_only", "").lower() == "true":
            query = query.where(OfferTaxonomyTerm.parent_id.is_(None))
        if text := request.args.get("search"):
            query = query.where(
                or_(
                    OfferTaxonomyTerm.name.ilike(f"%{text}%"),
                    OfferTaxonomyTerm.code.ilike(f"%{text}%"),
                )
            )
        return _page(session, query, lambda rows: [{**r.document, "id": str(r.id)} for r in rows])

    @bp.get("/taxonomy_terms/<uuid:term_id>")
    def taxonomy_term(term_id: uuid.UUID) -> Any:
        row = _found(db_session(), OfferTaxonomyTerm, term_id)
        return {**row.document, "id": str(row.id)}

    @bp.get("/service_at_locations")
    def service_at_locations() -> Any:
        session = db_session()
        services = _service_query(session).with_only_columns(OfferService.id).order_by(None)
        query = (
            select(OfferServiceAtLocation, OfferLocation, OfferService)
            .join(OfferLocation, OfferLocation.id == OfferServiceAtLocation.location_id)
            .join(OfferService, OfferService.id == OfferServiceAtLocation.service_id)
            .where(OfferServiceAtLocation.service_id.in_(services))
            .order_by(OfferService.name, OfferServiceAtLocation.id)
        )
        postcode = request.args.get("postcode")
        proximity = request.args.get("proximity")
        if proximity and not postcode:
            return _error(
                400, "invalid_parameter", "proximity braucht postcode.", "proximity needs postcode."
            )
        if postcode:
            point = geo.postcode_point(postcode)
            if proximity:
                if point is None:
                    return _error(
                        400, "unknown_postcode", "Unbekannte Postleitzahl.", "Unknown postcode."
                    )
                metres = _int_arg("proximity", 0, 0, 1_000_000)
                # a box in SQL, then the exact distance of what it holds
                margin = metres / 1000 / geo.KM_PER_DEGREE
                squeeze = max(0.01, math.cos(math.radians(point[0])))
                query = query.where(
                    OfferLocation.latitude.between(point[0] - margin, point[0] + margin),
                    OfferLocation.longitude.between(
                        point[1] - margin / squeeze, point[1] + margin / squeeze
                    ),
                )
                inside = [
                    row
                    for row in session.execute(query)
                    if row[1].latitude is not None
                    and row[1].longitude is not None
                    and geo.distance_km(point, (row[1].latitude, row[1].longitude)) * 1000 <= metres
                ]
                ids = [row[0].id for row in inside]
                query = (
                    query.where(OfferServiceAtLocation.id.in_(ids))
                    if ids
                    else query.where(OfferServiceAtLocation.id.is_(None))
                )
            else:
                query = query.where(OfferLocation.postal_code == postcode)

        def render(rows: list[Any]) -> list[Any]:
            return [
                {
                    **at.document,
                    "id": str(at.id),
                    "service": {**_one_to_one(svc.document), "id": str(svc.id)},
                    "location": _one_to_one(loc.document),
                }
                for at, loc, svc in rows
            ]

        return _page(session, query, render)

    @bp.get("/service_at_locations/<uuid:at_id>")
    def service_at_location(at_id: uuid.UUID) -> Any:
        session = db_session()
        row = _found(session, OfferServiceAtLocation, at_id)
        location = session.get(OfferLocation, row.location_id)
        service = session.get(OfferService, row.service_id)
        return {
            **row.document,
            "id": str(row.id),
            "location": location.document if location else None,
            "service": _one_to_one(service.document) if service else None,
        }

    return bp
