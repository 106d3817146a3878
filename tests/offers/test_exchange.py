"""Import and export of the offer directory: the HSDS examples round-trip (import → export →
valid, and nothing lost), re-import updates by id, and every invalid record refuses the whole
batch with its JSON path while nothing of it is applied."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from services.agreements.offers import tree, validation
from services.agreements.offers.models import (
    OfferLocation,
    OfferOrganization,
    OfferService,
    OfferServiceAtLocation,
    OfferServiceField,
    OfferTaxonomyTerm,
)
from services.agreements.offers.operations import exchange
from services.agreements.offers.operations.import_checks import OfferImportInvalid
from tests.fixtures.platform import Platform

from .helpers import example, location, new_id, operator, organization, service

SLUG = "essen"


def _strip_links(value: Any) -> Any:
    """Without the link fields an export adds (``organization_id``, ``location_id``, ...)."""
    if isinstance(value, dict):
        return {
            k: _strip_links(v)
            for k, v in value.items()
            if not (k.endswith("_id") or k in ("link_entity", "resource_type"))
        }
    if isinstance(value, list):
        return [_strip_links(v) for v in value]
    return value


def _counts(platform: Platform) -> dict[str, int]:
    with platform.session(SLUG) as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (
                OfferOrganization,
                OfferLocation,
                OfferService,
                OfferServiceAtLocation,
                OfferTaxonomyTerm,
                OfferServiceField,
            )
        }


def _import(platform: Platform, data: Any) -> Any:
    with platform.session(SLUG) as session, session.begin():
        return exchange.import_json(session, operator(SLUG), data)


def _export(platform: Platform, folder: Path) -> list[dict[str, Any]]:
    with platform.session(SLUG) as session:
        exchange.write_export(session, folder)
    exported: list[dict[str, Any]] = json.loads((folder / exchange.JSON_FILE).read_text())
    return exported


def assert_valid_export(folder: Path) -> None:
    for index, org in enumerate(json.loads((folder / exchange.JSON_FILE).read_text())):
        assert validation.check("organization", org, f"[{index}]") == []
        for s_index, svc in enumerate(org.get("services", [])):
            assert validation.check("service", svc, f"[{index}].services[{s_index}]") == []
            assert validation.check_extension(svc) == []
    package = json.loads((folder / "tabular" / "datapackage.json").read_text())
    assert package["resources"]
    for resource in package["resources"]:
        text = (folder / "tabular" / resource["path"]).read_text()
        kind = tree.kind_of_table()[resource["name"]]
        # the tabular reader converts each cell by the schema's type and checks the row
        exchange.import_tabular  # noqa: B018  (the same conversion is exercised below)
        header = text.splitlines()[0].split(",")
        assert header[0] == "id" and set(tree.scalar_fields(kind)) <= set(header)


def test_examples_round_trip(platform: Platform, tmp_path: Path) -> None:
    org = example("organization_full")
    result = _import(platform, org)
    assert result.created["organization"] == 1 and result.created["service"] == 1

    exported = _export(platform, tmp_path / "first")
    assert_valid_export(tmp_path / "first")
    mine = next(o for o in exported if o["id"] == org["id"])
    expected = copy.deepcopy(org)
    at_location = expected["services"][0]["service_at_locations"][0]
    at_location.pop("location")  # exported by id: the location is the organization's
    assert _strip_links(mine) == _strip_links(expected)

    # the tabular form imports into the same ids and exports the same organization
    with platform.session(SLUG) as session, session.begin():
        texts = exchange.read_tabular_folder(tmp_path / "first" / "tabular")
        again = exchange.import_tabular(session, operator(SLUG), texts)
    assert again.updated["service"] >= 1 and "service" not in again.created
    second = _export(platform, tmp_path / "second")
    assert_valid_export(tmp_path / "second")
    assert _strip_links(next(o for o in second if o["id"] == org["id"])) == _strip_links(mine)


def test_service_example_validates_as_exported(platform: Platform) -> None:
    full = example("service_full")
    assert validation.check("service_with_definitions", full) == []
    org = copy.deepcopy(full["organization"])
    svc = {k: v for k, v in full.items() if k not in ("organization",)}
    svc["id"] = new_id()
    for at in svc.get("service_at_locations", []):
        at["id"] = new_id()
        at["location"]["id"] = new_id()
    org["id"] = new_id()
    org["services"] = [svc]
    svc.pop("organization_id", None)
    _import(platform, org)
    with platform.session(SLUG) as session:
        row = session.get(OfferService, __import__("uuid").UUID(svc["id"]))
        assert row is not None and row.name == full["name"]


def test_reimport_updates_by_id(platform: Platform) -> None:
    here = location("45127", "Essen")
    course = service(
        "Integrationskurs Nord",
        "integrationskurs",
        at=[here],
        languages=("ar",),
        integra_free_places=3,
    )
    org = organization("Sprachschule Ruhrbogen gGmbH", [here], [course])
    _import(platform, org)
    before = _counts(platform)
    course["name"] = "Integrationskurs Nord (Abendkurs)"
    course["integra_free_places"] = 0
    result = _import(platform, org)
    assert result.updated["service"] == 1 and "service" not in result.created
    assert _counts(platform) == before
    with platform.session(SLUG) as session:
        row = session.get(OfferService, __import__("uuid").UUID(course["id"]))
        assert row is not None
        assert (row.name, row.free_places) == ("Integrationskurs Nord (Abendkurs)", 0)
        fields = session.scalars(
            select(OfferServiceField.field).where(OfferServiceField.service_id == row.id)
        ).all()
        assert fields == ["language"]


def _valid_batch() -> list[dict[str, Any]]:
    here = location("45141", "Essen")
    first = organization(
        "Bildungswerk Brückenschlag e. V.",
        [here],
        [
            service("Berufssprachkurs B2", "berufssprachkurs", at=[here]),
            service("Integrationskurs mit Kinderbetreuung", "integrationskurs", at=[here]),
        ],
    )
    other = location("45136", "Essen")
    second = organization(
        "Kita Sonnenhügel", [other], [service("Kita Sonnenhügel", "kita", at=[other])]
    )
    return [first, second]


INVALID_CASES = {
    "status not in HSDS's list": (
        lambda b: b[0]["services"][1].__setitem__("status", "open"),
        "[0].services[1].status",
    ),
    "service name missing": (lambda b: b[0]["services"][0].pop("name"), "[0].services[0].name"),
    "id not a uuid": (
        lambda b: b[1]["services"][0].__setitem__("id", "kita-1"),
        "[1].services[0].id",
    ),
    "organization description missing": (lambda b: b[1].pop("description"), "[1].description"),
    "address without postal code": (
        lambda b: b[0]["locations"][0]["addresses"][0].pop("postal_code"),
        "[0].locations[0].addresses[0].postal_code",
    ),
    "negative free places (extension)": (
        lambda b: b[0]["services"][0].__setitem__("integra_free_places", -2),
        "[0].services[0].integra_free_places",
    ),
    "unknown residence status (extension)": (
        lambda b: b[0]["services"][0].__setitem__("integra_residence_statuses", ["citizen"]),
        "[0].services[0].integra_residence_statuses[0]",
    ),
    "service at an unknown location": (
        lambda b: b[1]["services"][0]["service_at_locations"][0].__setitem__(
            "location_id", new_id()
        ),
        "[1].services[0].service_at_locations[0].location_id",
    ),
    "attribute of an unknown term": (
        lambda b: b[0]["services"][1]["attributes"][0].__setitem__("taxonomy_term_id", new_id()),
        "[0].services[1].attributes[0].taxonomy_term_id",
    ),
    "the same service twice": (
        lambda b: b[1]["services"].append(copy.deepcopy(b[0]["services"][0])),
        "[1].services[1].id",
    ),
    "schedule frequency not in HSDS's list": (
        lambda b: b[0]["services"][0].__setitem__("schedules", [{"id": new_id(), "freq": "DAILY"}]),
        "[0].services[0].schedules[0].freq",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID_CASES))
def test_invalid_record_refuses_the_whole_batch(platform: Platform, case: str) -> None:
    change, path = INVALID_CASES[case]
    batch = _valid_batch()
    change(batch)
    before = _counts(platform)
    with pytest.raises(OfferImportInvalid) as refused:
        _import(platform, batch)
    assert any(p.path == path for p in refused.value.problems), refused.value.problems
    assert refused.value.status == 422
    assert _counts(platform) == before, "nothing of a refused batch is applied"


def test_single_organization_paths_start_at_its_fields(platform: Platform) -> None:
    org = _valid_batch()[0]
    org["services"][1]["status"] = "closed"
    with pytest.raises(OfferImportInvalid) as refused:
        _import(platform, org)
    assert [p.path for p in refused.value.problems] == ["services[1].status"]


def test_tabular_row_problem_names_file_and_row(platform: Platform, tmp_path: Path) -> None:
    _import(platform, _valid_batch())
    with platform.session(SLUG) as session:
        exchange.write_export(session, tmp_path)
    services_csv = tmp_path / "tabular" / "services.csv"
    lines = services_csv.read_text().splitlines()
    lines[2] = lines[2].replace(",active,", ",paused,", 1)
    services_csv.write_text("\n".join(lines) + "\n")
    before = _counts(platform)
    with platform.session(SLUG) as session, pytest.raises(OfferImportInvalid) as refused:
        exchange.import_tabular(
            session, operator(SLUG), exchange.read_tabular_folder(tmp_path / "tabular")
        )
    assert [p.path for p in refused.value.problems] == ["services.csv[row 3].status"]
    assert _counts(platform) == before
