"""Demo offers per pilot tenant: real programmes (Integrationskurs, Berufssprachkurs nach
DeuFöV, Kita, IQ Anerkennungsberatung, Jobcenter measures), made-up providers, at the
postcodes of the tenant's own offices; imported through the offer directory's import, so the
demo data passes the same checks as any other. Coordinates come from the postcode table."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.agreements.models.vocabulary import Role
from services.agreements.offers.models import OfferService
from services.agreements.offers.operations.directory import import_directory
from services.agreements.offers.taxonomy import term_id
from services.agreements.principal import Principal
from tenants.registry import Tenant

_NS = uuid.UUID("0b7d4c52-56a7-5b55-9d6a-7c2f1d3f9e21")
#: (kind, name, provider, languages, childcare, free places, wait weeks, byday, opens, closes,
#: extension fields)
OFFERS: list[tuple[Any, ...]] = [
    (
        "integrationskurs",
        "Integrationskurs mit Kinderbetreuung",
        "Sprachschule Lindenhof gGmbH",
        ("de", "ar", "fa"),
        True,
        4,
        None,
        "MO,TU,WE,TH,FR",
        "08:30",
        "12:15",
        {"integra_course_obligation": "admitted"},
    ),
    (
        "integrationskurs",
        "Integrationskurs am Abend",
        "Sprachschule Lindenhof gGmbH",
        ("de", "uk", "ru"),
        False,
        0,
        6,
        "MO,TU,WE,TH",
        "18:00",
        "21:15",
        {"integra_course_obligation": "admitted"},
    ),
    (
        "berufssprachkurs",
        "Berufssprachkurs nach DeuFöV B2 (Pflege)",
        "Bildungswerk Brückenschlag e. V.",
        ("de",),
        False,
        2,
        None,
        "MO,WE,FR",
        "13:00",
        "16:30",
        {
            "integra_residence_statuses": [
                "recognised_refugee",
                "subsidiary_protection",
                "temporary_protection",
                "residence_permit",
                "settlement_permit",
                "eu_citizen",
            ]
        },
    ),
    (
        "kita",
        "Kita Sonnenhügel",
        "Kinderhaus Sonnenhügel e. V.",
        ("de", "tr", "ar"),
        False,
        1,
        None,
        "MO,TU,WE,TH,FR",
        "07:30",
        "16:30",
        {},
    ),
    (
        "kita_einstieg",
        "Kita-Einstieg: Eltern-Kind-Gruppe",
        "Familienzentrum Regenbogen gGmbH",
        ("de", "ar", "ti"),
        True,
        6,
        None,
        "TU,TH",
        "09:30",
        "11:30",
        {},
    ),
    (
        "iq_anerkennungsberatung",
        "Anerkennungsberatung im Netzwerk IQ",
        "Beratungsstelle Anerkennung Plus gGmbH",
        ("de", "en", "ar", "uk"),
        False,
        None,
        2,
        "MO,WE",
        "09:00",
        "15:00",
        {},
    ),
    (
        "jobcenter_massnahme",
        "Aktivierungsmaßnahme für junge Erwachsene (U25)",
        "Werkstatt Zukunft gGmbH",
        ("de", "ar", "fa"),
        False,
        3,
        None,
        "MO,TU,WE,TH",
        "09:00",
        "14:00",
        {"integra_programmes": ["sgb2"]},
    ),
    (
        "arbeitsagentur_massnahme",
        "Berufsorientierung mit Sprachförderung",
        "Werkstatt Zukunft gGmbH",
        ("de",),
        False,
        None,
        4,
        "TU,TH",
        "13:00",
        "16:00",
        {"integra_programmes": ["sgb3", "sgb2"]},
    ),
]


def _id(tenant: Tenant, *parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join((tenant.slug, *parts))))


def _address(tenant: Tenant, index: int) -> tuple[str, str, str]:
    """(street, postcode, city) of one of the tenant's offices, by turns."""
    office = tenant.offices[index % len(tenant.offices)]
    match = re.match(r"(.*),\s*(\d{5})\s+(.*)", office.address)
    if match is None:
        return office.address, "", tenant.name
    return match.group(1), match.group(2), match.group(3)


def demo_directory(tenant: Tenant) -> list[dict[str, Any]]:
    organizations: dict[str, dict[str, Any]] = {}
    for index, (
        kind,
        name,
        provider,
        languages,
        childcare,
        free,
        wait,
        byday,
        opens,
        closes,
        extra,
    ) in enumerate(OFFERS):
        org = organizations.setdefault(
            provider,
            {
                "id": _id(tenant, provider),
                "name": provider,
                "description": f"{provider} (Demo-Träger in {tenant.name})",
                "locations": [],
                "services": [],
            },
        )
        street, postcode, city = _address(tenant, index)
        location_id = _id(tenant, provider, postcode)
        if not any(loc["id"] == location_id for loc in org["locations"]):
            org["locations"].append(
                {
                    "id": location_id,
                    "location_type": "physical",
                    "name": f"{provider}, {city}",
                    "addresses": [
                        {
                            "id": _id(tenant, provider, postcode, "address"),
                            "address_1": street,
                            "city": city,
                            "postal_code": postcode,
                            "state_province": tenant.federal_state,
                            "country": "DE",
                            "address_type": "physical",
                        }
                    ],
                }
            )
        service_id = _id(tenant, name)
        service: dict[str, Any] = {
            "id": service_id,
            "name": name,
            "status": "active",
            "description": f"{name} in {city}.",
            "attributes": [
                {
                    "id": _id(tenant, name, "kind"),
                    "taxonomy_term_id": str(term_id(kind)),
                    "link_type": "offer_kind",
                    "link_entity": "service",
                }
            ],
            "languages": [{"id": _id(tenant, name, code), "code": code} for code in languages],
            "schedules": [
                {
                    "id": _id(tenant, name, "schedule"),
                    "freq": "WEEKLY",
                    "byday": byday,
                    "opens_at": opens,
                    "closes_at": closes,
                }
            ],
            "service_at_locations": [{"id": _id(tenant, name, "at"), "location_id": location_id}],
            "integra_childcare": childcare,
            **extra,
        }
        if free is not None:
            service["integra_free_places"] = free
        if wait is not None:
            service["integra_wait_weeks"] = wait
        if kind == "jobcenter_massnahme":
            service["minimum_age"], service["maximum_age"] = 18, 25
        org["services"].append(service)
    return list(organizations.values())


def seed_offers(session: Session, tenant: Tenant) -> bool:
    """Import the demo directory once; False if the tenant already has offers."""
    if session.scalar(select(func.count()).select_from(OfferService)):
        return False
    principal = Principal("service:demo-seed", Role.TENANT_ADMIN, tenant.slug)
    import_directory(session, principal, demo_directory(tenant))
    return True
