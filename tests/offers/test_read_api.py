"""The public HSDS read API: valid against the schemas, filters that combine with AND,
postcode proximity, CORS, and nothing but offers reachable."""

from __future__ import annotations

from typing import Any

from services.agreements.offers import validation
from services.agreements.offers.taxonomy import INTEGRA_TAXONOMY_ID, term_id
from tests.fixtures.factories import client_body
from tests.fixtures.platform import Platform

from .helpers import example, location, organization, service
from .test_matching import load, token

SLUG = "freiburg"


def get(platform: Platform, path: str, status: int = 200) -> Any:
    response = platform.http().get(f"/t/{SLUG}/hsds{path}")
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    return response.json


def test_read_api(platform: Platform) -> None:
    word = token()
    centre, far = location("79098"), location("79111")  # Freiburg-Weingarten, 4.8 km
    near_course = service(
        f"{word} Integrationskurs Mitte", "integrationskurs", at=[centre], languages=("ar",)
    )
    far_course = service(f"{word} Integrationskurs Ost", "integrationskurs", at=[far])
    kita = service(f"{word} Kita Mitte", "kita", at=[centre])
    org = organization(
        "Sprachschule Lindenhof gGmbH", [centre, far], [near_course, far_course, kita]
    )
    load(platform, org)
    with platform.session(SLUG) as session, session.begin():
        from services.agreements.offers.operations import exchange

        from .helpers import operator

        exchange.import_json(session, operator(SLUG), example("organization_full"))

    about = get(platform, "/")
    assert about["version"] == "3.0" and about["openapi_url"].endswith("/hsds/openapi.json")
    assert get(platform, "/openapi.json")["paths"]["/services"]

    page = get(platform, f"/services?search={word}&per_page=2")
    assert page["total_items"] == 3 and page["size"] == 2 and page["total_pages"] == 2
    assert page["first_page"] and not page["last_page"]
    assert validation.check("service", page["contents"][0]) == []

    courses = get(
        platform, f"/services?search={word}&taxonomy_term_id={term_id('integrationskurs')}"
    )
    assert {s["name"] for s in courses["contents"]} == {near_course["name"], far_course["name"]}
    by_org = get(
        platform,
        f"/services?search={word}&organization_id={org['id']}&taxonomy_term_id={term_id('kita')}",
    )
    assert [s["name"] for s in by_org["contents"]] == [kita["name"]]  # AND, not OR

    for svc in (near_course, example("organization_full")["services"][0]):
        full = get(platform, f"/services/{svc['id']}")
        assert validation.check("service_with_definitions", full) == [], svc["name"]
        assert full["service_at_locations"][0]["location"]["id"]
    nested_term = get(platform, f"/services/{near_course['id']}")["attributes"][0]["taxonomy_term"]
    assert nested_term["code"] == "integrationskurs"

    near = get(platform, f"/service_at_locations?search={word}&postcode=79098&proximity=1500")
    assert {c["service"]["name"] for c in near["contents"]} == {near_course["name"], kita["name"]}
    wide = get(platform, f"/service_at_locations?search={word}&postcode=79098&proximity=8000")
    assert wide["total_items"] == 3
    assert get(platform, "/service_at_locations?postcode=00000&proximity=10", 400)["code"] == (
        "unknown_postcode"
    )
    same_code = get(platform, f"/service_at_locations?search={word}&postcode=79111")
    assert [c["service"]["name"] for c in same_code["contents"]] == [far_course["name"]]
    for item in near["contents"]:
        assert validation.check("service_at_location", item) == []

    orgs = get(platform, "/organizations?search=Lindenhof")
    assert validation.check("organization", orgs["contents"][0]) == []
    nested_org = get(platform, f"/organizations/{org['id']}")
    assert validation.check("organization", nested_org) == []
    assert {s["id"] for s in nested_org["services"]} >= {near_course["id"], kita["id"]}
    taxonomies = get(platform, "/taxonomies")
    assert str(INTEGRA_TAXONOMY_ID) in {t["id"] for t in taxonomies["contents"]}
    fields = get(
        platform, f"/taxonomy_terms?taxonomy_id={INTEGRA_TAXONOMY_ID}&top_only=true&per_page=50"
    )
    assert {t["code"] for t in fields["contents"]} == {
        "language",
        "education",
        "work",
        "childcare",
        "recognition",
        "other",
    }
    for term in fields["contents"]:
        assert validation.check("taxonomy_term", term) == []
    kinds = get(platform, f"/taxonomy_terms?parent_id={term_id('childcare')}")
    assert "kita" in {t["code"] for t in kinds["contents"]}
    assert get(platform, f"/taxonomy_terms/{term_id('work')}")["name"] == "Arbeit"


def test_open_without_login_and_nothing_but_offers(platform: Platform) -> None:
    api = platform.api(SLUG)
    client = api.ok("POST", "clients", client_body(family_name="Geheim"))
    http = platform.http()
    for path in ("/services", "/organizations", "/taxonomy_terms", "/service_at_locations"):
        answer = http.get(f"/t/{SLUG}/hsds{path}")
        assert answer.status_code == 200 and "Geheim" not in answer.get_data(as_text=True)
    for path in (
        "/clients",
        f"/clients/{client['id']}",
        "/agreements",
        "/referrals",
        "/offices",
        f"/services/{client['id']}",
        "/../api/v1/clients",
    ):
        answer = http.get(f"/t/{SLUG}/hsds{path}")
        assert answer.status_code in (404, 401), path
        assert "Geheim" not in answer.get_data(as_text=True)
    assert http.post(f"/t/{SLUG}/hsds/services", json={}).status_code == 405
    assert http.delete(f"/t/{SLUG}/hsds/services").status_code == 405
    preflight = http.options(
        f"/t/{SLUG}/hsds/services",
        headers={"Origin": "https://directory.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, OPTIONS"
    assert http.get(f"/t/{SLUG}/hsds/services?page=x").status_code == 400
