"""Suggestions for a goal over 50,000 offers in one tenant (not a test).

A tenant of its own on PostgreSQL gets 50,000 offers (1,000 providers, 5,000 locations around
the tenant's offices, six goal fields, languages, schedules, places and eligibility drawn at
random), loaded with plain inserts of the rows the offer import writes (the import itself is
tested elsewhere; 50,000 services through it would only lengthen the set-up). Then the
suggestions endpoint is called through the real gateway, token and all (in process, WSGI), for
a client with a postcode, languages and a childcare need, cycling through the fields; beside
it, in the same run, a bare indexed query over the same table: the first ten offers of a field
by name.

    .venv/bin/python bench/offers_bench.py                  # 50,000 offers, 400 requests
    .venv/bin/python bench/offers_bench.py --offers 5000 --requests 100
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATABASE_URL = os.environ.get(
    "INTEGRA_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TENANT = "freiburg"
FIELDS = ("language", "education", "work", "childcare", "recognition", "other")
KINDS = {
    "language": "integrationskurs",
    "education": "schulabschluss",
    "work": "jobcenter_massnahme",
    "childcare": "kita",
    "recognition": "iq_anerkennungsberatung",
    "other": "sozialberatung",
}
LANGUAGES = ("ar", "fa", "uk", "ru", "tr", "en", "ti", "ps")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def load_offers(session: Any, count: int, rng: random.Random) -> None:
    from sqlalchemy import insert

    from services.agreements.db import utcnow
    from services.agreements.offers import derive, geo
    from services.agreements.offers.models import (
        OfferLocation,
        OfferOrganization,
        OfferService,
        OfferServiceAtLocation,
        OfferServiceField,
        OfferServiceLanguage,
        OfferServiceTerm,
    )
    from services.agreements.offers.taxonomy import ensure_taxonomy, term_id

    ensure_taxonomy(session)
    now = utcnow()
    codes = [c for c in geo._table() if c.startswith(("790", "791", "792"))]
    organizations = [
        {
            "id": uuid.uuid4(),
            "name": f"Träger {n}",
            "created_at": now,
            "updated_at": now,
            "document": {"name": f"Träger {n}"},
        }
        for n in range(max(1, count // 50))
    ]
    session.execute(insert(OfferOrganization), organizations)
    locations = []
    for n in range(max(1, count // 10)):
        code = rng.choice(codes)
        lat, lon = geo.postcode_point(code) or (48.0, 7.85)
        locations.append(
            {
                "id": uuid.uuid4(),
                "organization_id": organizations[n % len(organizations)]["id"],
                "name": f"Standort {n}",
                "postal_code": code,
                "city": "Freiburg",
                "latitude": lat,
                "longitude": lon,
                "coordinates_source": "postcode",
                "created_at": now,
                "updated_at": now,
                "document": {},
            }
        )
    session.execute(insert(OfferLocation), locations)
    for start in range(0, count, 5000):
        services, fields, languages, terms, places = [], [], [], [], []
        for n in range(start, min(count, start + 5000)):
            field = FIELDS[n % len(FIELDS)]
            ident = uuid.uuid4()
            name = f"Angebot {n} {KINDS[field]}"
            opens = rng.choice(("08:30", "13:00", "18:00"))
            spoken = rng.sample(LANGUAGES, rng.randint(0, 2))
            services.append(
                {
                    "id": ident,
                    "organization_id": organizations[n % len(organizations)]["id"],
                    "name": name,
                    "status": "active" if rng.random() > 0.05 else "inactive",
                    "minimum_age": 18 if rng.random() < 0.1 else None,
                    "maximum_age": None,
                    "childcare": rng.random() < 0.3,
                    "free_places": rng.choice((None, 0, 1, 5)),
                    "wait_weeks": rng.choice((None, 2, 8)),
                    "capacity": 20,
                    "capacity_updated_at": now,
                    "residence_mask": None,
                    "programme_mask": 4 if rng.random() < 0.05 else None,
                    "course_obligation": None,
                    "day_parts": derive.day_parts([{"opens_at": opens, "byday": "MO,WE"}]),
                    "search_text": derive.fold(f"{name} Beschreibung"),
                    "created_at": now,
                    "updated_at": now,
                    "document": {"name": name},
                }
            )
            fields.append({"field": field, "service_id": ident})
            terms.append({"service_id": ident, "taxonomy_term_id": term_id(KINDS[field])})
            languages += [{"service_id": ident, "code": code} for code in spoken]
            places.append(
                {
                    "id": uuid.uuid4(),
                    "service_id": ident,
                    "location_id": rng.choice(locations)["id"],
                    "created_at": now,
                    "updated_at": now,
                    "document": {},
                }
            )
        session.execute(insert(OfferService), services)
        session.execute(insert(OfferServiceField), fields)
        session.execute(insert(OfferServiceTerm), terms)
        if languages:
            session.execute(insert(OfferServiceLanguage), languages)
        session.execute(insert(OfferServiceAtLocation), places)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()

    from sqlalchemy import text
    from sqlalchemy.orm import Session
    from werkzeug.test import Client

    from deploy.provisioning import deprovision_tenant, provision_tenant
    from deploy.wiring import tenant_dispatcher
    from services.agreements.models.vocabulary import Role
    from services.agreements.operations.api_clients import create_api_client
    from tenants.databases import create_tenant_engine
    from tenants.registry import load_registry
    from tenants.settings import load_settings

    home = Path(tempfile.mkdtemp(prefix="offers-bench-"))
    settings = load_settings(
        {
            "INTEGRA_HOME": str(home),
            "INTEGRA_DATABASE_URL": DATABASE_URL,
            "INTEGRA_DATABASE_PREFIX": f"obench_{uuid.uuid4().hex[:6]}",
        }
    )
    registry = load_registry(settings.tenants_dir)
    tenant = registry.require(TENANT)
    provision_tenant(settings, tenant)
    engine = create_tenant_engine(settings, tenant)
    dispatcher = tenant_dispatcher(settings, registry)
    try:
        rng = random.Random(7)
        started = time.perf_counter()
        with Session(engine) as session, session.begin():
            load_offers(session, args.offers, rng)
            issued = create_api_client(session, "bench", Role.COUNSELLOR, tenant.offices[0].key)
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
        print(f"loaded {args.offers} offers in {time.perf_counter() - started:.1f} s")

        http = Client(dispatcher)
        basic = base64.b64encode(f"{issued.client_id}:{issued.client_secret}".encode()).decode()
        token = http.post(
            f"/t/{TENANT}/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        ).json["access_token"]  # type: ignore[index]
        auth = {"Authorization": f"Bearer {token}"}
        client = http.post(
            f"/t/{TENANT}/api/v1/clients",
            headers=auth,
            json={
                "given_name": "Amina",
                "family_name": "Haddad",
                "birth_date": "1990-04-12",
                "country_of_origin": "SY",
                "languages": ["ar", "en"],
                "arrival_date": "2026-01-10",
                "postal_code": "79098",
                "household": {"adults": 1, "children": 1, "children_under_three": 1},
            },
        ).json
        url = f"/t/{TENANT}/api/v1/clients/{client['id']}/suggestions"  # type: ignore[index]
        for field in FIELDS:  # warm up: the app, the pool, the plans
            assert http.get(f"{url}?field={field}", headers=auth).status_code == 200

        suggest_ms, bare_ms = [], []
        with engine.connect() as connection:
            bare = text(
                "SELECT s.id FROM offer_services s JOIN offer_service_fields f "
                "ON f.service_id = s.id WHERE f.field = :field AND s.status = 'active' "
                "ORDER BY s.name LIMIT 10"
            )
            for n in range(args.requests):
                field = FIELDS[n % len(FIELDS)]
                t0 = time.perf_counter()
                answer = http.get(f"{url}?field={field}&day_parts=morning", headers=auth)
                suggest_ms.append((time.perf_counter() - t0) * 1000)
                assert answer.status_code == 200 and answer.json["items"]  # type: ignore[index]
                t0 = time.perf_counter()
                connection.execute(bare, {"field": field}).all()
                bare_ms.append((time.perf_counter() - t0) * 1000)
        print(f"{args.offers} offers, {args.requests} requests each, one tenant, PostgreSQL")
        for name, values in (
            ("suggestions (API, ranked, audited)", suggest_ms),
            ("bare indexed query (10 by name)", bare_ms),
        ):
            print(
                f"  {name:38} p50 {statistics.median(values):6.1f} ms   "
                f"p99 {percentile(values, 0.99):6.1f} ms   max {max(values):6.1f} ms"
            )
    finally:
        dispatcher.dispose()
        engine.dispose()
        deprovision_tenant(settings, tenant)


if __name__ == "__main__":
    main()
