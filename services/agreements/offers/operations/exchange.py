"""The directory as files, in HSDS's two forms, and back.

Export: ``organizations.json`` (a list of organizations shaped like ``organization_full.json``:
locations and services nested, attributes with their taxonomy terms) and ``tabular/`` (an
HSDS datapackage: ``datapackage.json`` and one CSV per object type). Import reads either: a
JSON file holding one organization or a list, or a folder with ``datapackage.json``.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...principal import Principal
from .. import tree, validation
from ..models import (
    OfferLocation,
    OfferOrganization,
    OfferService,
    OfferServiceAtLocation,
    OfferTaxonomy,
    OfferTaxonomyTerm,
)
from ..validation import Problem
from .directory import ImportResult, import_directory
from .import_checks import OfferImportInvalid

JSON_FILE = "organizations.json"
TABULAR_DIR = "tabular"
DATAPACKAGE = "datapackage.json"
HSDS_PROFILE = "https://openreferral.org/hsds/3.0"
#: Frictionless table-schema types of HSDS's JSON types.
FIELD_TYPES = {
    "string": "string",
    "number": "number",
    "integer": "integer",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}


# -- export ---------------------------------------------------------------------------------------


def export_taxonomy(session: Session) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every taxonomy and term of the directory, as HSDS documents."""
    taxonomies = [
        row.document
        for row in session.scalars(
            select(OfferTaxonomy).order_by(OfferTaxonomy.name, OfferTaxonomy.id)
        )
    ]
    terms = [
        _term_document(row)
        for row in session.scalars(
            select(OfferTaxonomyTerm).order_by(OfferTaxonomyTerm.name, OfferTaxonomyTerm.id)
        )
    ]
    return taxonomies, terms


def _term_document(row: OfferTaxonomyTerm) -> dict[str, Any]:
    document = dict(row.document)
    document["id"] = str(row.id)
    return document


def nested_terms(session: Session, term_ids: set[str]) -> dict[str, dict[str, Any]]:
    """Terms by id, each with its ``taxonomy_detail`` as HSDS nests it in an attribute."""
    if not term_ids:
        return {}
    terms = list(
        session.scalars(
            select(OfferTaxonomyTerm).where(
                OfferTaxonomyTerm.id.in_([uuid.UUID(t) for t in term_ids])
            )
        )
    )
    taxonomy_ids = {t.taxonomy_id for t in terms if t.taxonomy_id}
    details = (
        {
            row.id: row.document
            for row in session.scalars(
                select(OfferTaxonomy).where(OfferTaxonomy.id.in_(taxonomy_ids))
            )
        }
        if taxonomy_ids
        else {}
    )
    found = {}
    for term in terms:
        document = _term_document(term)
        if term.taxonomy_id in details:
            document["taxonomy_detail"] = details[term.taxonomy_id]
        found[str(term.id)] = document
    return found


def with_terms(attributes: list[dict[str, Any]], terms: dict[str, dict[str, Any]]) -> list[Any]:
    return [
        {**a, "taxonomy_term": terms[a["taxonomy_term_id"]]}
        if a.get("taxonomy_term_id") in terms
        else a
        for a in attributes
    ]


def export_organizations(session: Session) -> list[dict[str, Any]]:
    """Every organization, nested as ``organization_full.json`` is."""
    locations: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for location in session.scalars(select(OfferLocation).order_by(OfferLocation.id)):
        locations[location.organization_id].append(location.document)  # type: ignore[index]
    at_locations: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for row in session.scalars(select(OfferServiceAtLocation).order_by(OfferServiceAtLocation.id)):
        at_locations[row.service_id].append(row.document)
    services: dict[uuid.UUID, list[OfferService]] = defaultdict(list)
    term_ids: set[str] = set()
    for service in session.scalars(
        select(OfferService).order_by(OfferService.name, OfferService.id)
    ):
        services[service.organization_id].append(service)
        term_ids |= {
            a["taxonomy_term_id"]
            for a in service.document.get("attributes") or []
            if a.get("taxonomy_term_id")
        }
    terms = nested_terms(session, term_ids)
    exported = []
    for organization in session.scalars(
        select(OfferOrganization).order_by(OfferOrganization.name, OfferOrganization.id)
    ):
        document = dict(organization.document)
        if locations.get(organization.id):
            document["locations"] = locations[organization.id]
        document["services"] = [
            service_document(service, at_locations.get(service.id, []), terms)
            for service in services.get(organization.id, [])
        ]
        exported.append(document)
    return exported


def service_document(
    service: OfferService, at_locations: list[dict[str, Any]], terms: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    document = dict(service.document)
    document["organization_id"] = str(service.organization_id)
    if "attributes" in document:
        document["attributes"] = with_terms(document["attributes"], terms)
    if at_locations:
        document["service_at_locations"] = at_locations
    return document


def tabular_tables(session: Session) -> dict[str, list[dict[str, Any]]]:
    """The directory as HSDS tables (rows per CSV)."""
    tables = tree.flatten(export_organizations(session))
    taxonomies, terms = export_taxonomy(session)
    for name, rows in (("taxonomies", taxonomies), ("taxonomy_terms", terms)):
        kind = tree.kind_of_table()[name]
        merged = {str(r["id"]): r for r in tables.get(name, [])}
        for row in rows:
            merged[str(row["id"])] = {
                **merged.get(str(row["id"]), {}),
                **tree.flatten_row(kind, row),
            }
        tables[name] = list(merged.values())
    return tables


def _columns(kind: str, rows: list[dict[str, Any]]) -> list[str]:
    columns = list(tree.scalar_fields(kind))
    for row in rows:
        columns += [key for key in row if key not in columns]
    return columns


def _field_type(kind: str, column: str) -> str:
    spec = validation.schema(kind).get("properties", {}).get(column)
    if spec is None and kind == "service":
        spec = validation.extension_properties().get(column)
    return FIELD_TYPES.get((spec or {}).get("type", "string"), "string")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def write_export(session: Session, folder: Path) -> dict[str, int]:
    """Write both forms into ``folder``; returns rows per table."""
    folder.mkdir(parents=True, exist_ok=True)
    organizations = export_organizations(session)
    (folder / JSON_FILE).write_text(
        json.dumps(organizations, ensure_ascii=False, indent=2) + "\n", "utf-8"
    )
    tabular = folder / TABULAR_DIR
    tabular.mkdir(exist_ok=True)
    tables = tabular_tables(session)
    resources = []
    for name, rows in sorted(tables.items()):
        kind = tree.kind_of_table()[name]
        columns = _columns(kind, rows)
        with (tabular / f"{name}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows({c: _cell(row.get(c)) for c in columns} for row in rows)
        resources.append(
            {
                "name": name,
                "path": f"{name}.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {
                    "fields": [{"name": c, "type": _field_type(kind, c)} for c in columns],
                    "primaryKey": "id",
                },
            }
        )
    package = {
        "name": "integra-offers",
        "profile": "tabular-data-package",
        "title": "Integra offer directory (HSDS 3)",
        "hsds_profile": HSDS_PROFILE,
        "resources": resources,
    }
    (tabular / DATAPACKAGE).write_text(
        json.dumps(package, ensure_ascii=False, indent=2) + "\n", "utf-8"
    )
    return {name: len(rows) for name, rows in tables.items()}


# -- import ---------------------------------------------------------------------------------------


def import_path(session: Session, principal: Principal, path: Path) -> ImportResult:
    """Import a JSON file (one organization, or a list) or a tabular datapackage folder."""
    if path.is_dir():
        return import_tabular(session, principal, read_tabular_folder(path))
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise OfferImportInvalid(
            [Problem(path.name, f"not a readable JSON file: {error}")]
        ) from error
    return import_json(session, principal, data)


def import_json(session: Session, principal: Principal, data: Any) -> ImportResult:
    if isinstance(data, dict):
        return import_directory(session, principal, [data], single=True)
    if isinstance(data, list):
        return import_directory(session, principal, data)
    raise OfferImportInvalid([Problem("", "expected an organization object or a list of them")])


def read_tabular_folder(folder: Path) -> dict[str, str]:
    """CSV texts by table name, as the folder's datapackage.json lists them."""
    package_file = folder / DATAPACKAGE
    if not package_file.is_file():
        raise OfferImportInvalid([Problem(DATAPACKAGE, "missing in the folder")])
    try:
        package = json.loads(package_file.read_text("utf-8"))
        resources = package["resources"]
    except (ValueError, KeyError, TypeError) as error:
        raise OfferImportInvalid([Problem(DATAPACKAGE, f"unreadable: {error}")]) from error
    texts = {}
    for resource in resources:
        path = folder / str(resource.get("path", ""))
        if path.resolve().parent != folder.resolve() or not path.is_file():
            raise OfferImportInvalid(
                [
                    Problem(
                        DATAPACKAGE,
                        f"resource {resource.get('path')!r} is not a file in the folder",
                    )
                ]
            )
        texts[path.stem] = path.read_text("utf-8")
    return texts


def _convert(kind: str, column: str, value: str, where: str) -> tuple[Any, Problem | None]:
    spec = validation.schema(kind).get("properties", {}).get(column)
    if spec is None and kind == "service":
        spec = validation.extension_properties().get(column)
    json_type = (spec or {}).get("type", "string")
    try:
        if json_type == "number":
            number = float(value)
            return (int(number) if number.is_integer() else number), None
        if json_type == "integer":
            return int(value), None
        if json_type == "boolean":
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(value)
            return value.lower() in ("true", "1"), None
        if json_type in ("array", "object"):
            return json.loads(value), None
    except ValueError:
        return None, Problem(f"{where}.{column}", f"{value!r} is not of type {json_type}")
    return value, None


def import_tabular(session: Session, principal: Principal, texts: dict[str, str]) -> ImportResult:
    """Import an HSDS datapackage's CSV tables (all or nothing, as every import)."""
    problems: list[Problem] = []
    tables: dict[str, list[dict[str, Any]]] = {}
    for name, text in texts.items():
        kind = tree.kind_of_table().get(name)
        if kind is None:
            problems.append(Problem(f"{name}.csv", "not an HSDS table"))
            continue
        rows = []
        for number, raw in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            where = f"{name}.csv[row {number}]"
            row: dict[str, Any] = {}
            for column, value in raw.items():
                if column is None or value in (None, ""):
                    continue
                row[column], problem = _convert(kind, column, value, where)
                if problem:
                    problems.append(problem)
            problems += validation.check(kind, row, where)
            rows.append(row)
        tables[name] = rows
    if problems:
        raise OfferImportInvalid(problems)
    organizations = tree.nest(tables)
    return import_directory(
        session,
        principal,
        organizations,
        taxonomies=tables.get("taxonomies", []),
        terms=tables.get("taxonomy_terms", []),
    )
