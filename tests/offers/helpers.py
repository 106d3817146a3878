"""Offer documents for tests: HSDS organizations built field by field, and a session as an
operator or admin works with the directory."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from services.agreements.models.vocabulary import Role
from services.agreements.offers.taxonomy import term_id
from services.agreements.offers.validation import EXAMPLES_DIR
from services.agreements.principal import Principal


def example(name: str) -> Any:
    return json.loads((EXAMPLES_DIR / f"{name}.json").read_text("utf-8"))


def operator(slug: str) -> Principal:
    return Principal("service:test-operator", Role.TENANT_ADMIN, slug)


def new_id() -> str:
    return str(uuid.uuid4())


def location(
    postal_code: str = "79098", city: str = "Freiburg im Breisgau", **extra: Any
) -> dict[str, Any]:
    ident = new_id()
    return {
        "id": ident,
        "location_type": "physical",
        "name": extra.pop("name", f"Standort {postal_code}"),
        "addresses": [
            {
                "id": new_id(),
                "address_1": extra.pop("street", "Hauptstraße 1"),
                "city": city,
                "state_province": "Baden-Württemberg",
                "postal_code": postal_code,
                "country": "DE",
                "address_type": "physical",
            }
        ],
        **extra,
    }


def service(
    name: str,
    kind: str,
    *,
    languages: tuple[str, ...] = (),
    at: list[dict[str, Any]] | None = None,
    schedule: tuple[str, str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A service of the given offer kind (a term code of the tenant's taxonomy), at the given
    locations, taught in ``languages``, running ``schedule`` = (byday, opens, closes)."""
    ident = new_id()
    document: dict[str, Any] = {
        "id": ident,
        "name": name,
        "description": f"{name}: Beschreibung",
        "status": "active",
        "attributes": [
            {
                "id": new_id(),
                "taxonomy_term_id": str(term_id(kind)),
                "link_type": "offer_kind",
                "link_entity": "service",
            }
        ],
        "languages": [{"id": new_id(), "code": code, "name": code} for code in languages],
        "service_at_locations": [{"id": new_id(), "location_id": loc["id"]} for loc in at or []],
        **extra,
    }
    if schedule:
        byday, opens, closes = schedule
        document["schedules"] = [
            {
                "id": new_id(),
                "freq": "WEEKLY",
                "byday": byday,
                "opens_at": opens,
                "closes_at": closes,
            }
        ]
    return document


def organization(
    name: str, locations: list[dict[str, Any]], services: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "name": name,
        "description": f"{name}, Träger",
        "locations": copy.deepcopy(locations),
        "services": services,
    }
