"""HSDS's two shapes of the same data, read off the schemas: nested JSON (an organization with
its locations and services, as in ``organization_full.json``) and the tabular datapackage (one
CSV per object type, children pointing at their parent by id).

The schemas say which property holds which child type (``$ref``); the link back from a child
row to its parent follows HSDS's naming: ``<parent>_id`` where the child schema has it,
``link_id``/``link_entity`` for attributes, ``resource_id``/``resource_type`` for metadata, and
for the one-to-one objects nested the other way round (a service_at_location's ``location``, an
attribute's ``taxonomy_term``, a term's ``taxonomy_detail``) the parent's ``<child>_id``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from .validation import schema, schema_names


@dataclass(frozen=True)
class Child:
    prop: str
    kind: str
    many: bool


#: One-to-one objects nested inside the object that points at them: (parent, property) →
#: the parent's field holding the child's id.
REVERSE_LINKS = {
    ("service_at_location", "location"): "location_id",
    ("attribute", "taxonomy_term"): "taxonomy_term_id",
    ("taxonomy_term", "taxonomy_detail"): "taxonomy_id",
    ("service", "organization"): "organization_id",
    ("service", "program"): "program_id",
}
#: One-to-one objects the nested form repeats inside their parent (a service's program, also
#: listed among its organization's programs).
NESTED_AGAIN = {("service", "program")}
#: The organization schema has no ``services``; the nested import and export form has.
EXTRA_CHILDREN = {"organization": [Child("services", "service", True)]}
#: Table names of the datapackage, by object kind (each schema's ``path``, without .csv).
#: ``taxonomy_detail`` is a taxonomy.
KIND_OF_SCHEMA_REF = {"taxonomy.json": "taxonomy"}


def _kind_of_ref(ref: str) -> str:
    return KIND_OF_SCHEMA_REF.get(ref, ref.removesuffix(".json"))


@cache
def children(kind: str) -> tuple[Child, ...]:
    """The child objects an HSDS object of ``kind`` nests, in schema order."""
    found = []
    for prop, spec in schema(kind).get("properties", {}).items():
        if "$ref" in spec:
            found.append(Child(prop, _kind_of_ref(spec["$ref"]), False))
        elif spec.get("type") == "array" and "$ref" in spec.get("items", {}):
            found.append(Child(prop, _kind_of_ref(spec["items"]["$ref"]), True))
    return (*found, *EXTRA_CHILDREN.get(kind, []))


@cache
def scalar_fields(kind: str) -> tuple[str, ...]:
    """The columns of ``kind``'s table: every property that is not a nested object."""
    nested = {child.prop for child in children(kind)}
    return tuple(p for p in schema(kind).get("properties", {}) if p not in nested)


def table_name(kind: str) -> str:
    path: str = schema(kind).get("path", f"{kind}s.csv")
    return path.removesuffix(".csv")


@cache
def kind_of_table() -> dict[str, str]:
    return {table_name(kind): kind for kind in schema_names()}


def link_fields(parent: str, child: Child) -> tuple[str, str | None]:
    """(id field, entity field) a ``child`` row of ``parent`` points at its parent with."""
    props = schema(child.kind).get("properties", {})
    if f"{parent}_id" in props:
        return f"{parent}_id", None
    if child.kind == "attribute":
        return "link_id", "link_entity"
    if child.kind == "metadata":
        return "resource_id", "resource_type"
    raise KeyError(f"no link from {child.kind} to {parent}")


def flatten_row(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """A row of ``kind``'s table: its fields, and any extension field (an object or list as
    JSON text, since a CSV cell holds text)."""
    nested = {child.prop for child in children(kind)}
    row: dict[str, Any] = {}
    for key, value in obj.items():
        if key in nested:
            continue
        row[key] = (
            json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
        )
    return row


def flatten(organizations: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Nested organizations → rows per table (each object once, by id)."""
    tables: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)

    def visit(kind: str, obj: dict[str, Any], links: dict[str, Any]) -> None:
        row = {**flatten_row(kind, obj), **{k: v for k, v in links.items() if k not in obj}}
        table = tables[table_name(kind)]
        key = str(obj.get("id"))
        table[key] = {**table.get(key, {}), **row}
        for child in children(kind):
            value = obj.get(child.prop)
            if value is None:
                continue
            reverse = REVERSE_LINKS.get((kind, child.prop))
            if reverse is not None:
                if kind == "service" and child.prop == "organization":
                    continue  # the organization is the parent being visited
                if isinstance(value, dict):
                    row.setdefault(reverse, value.get("id"))
                    table[key].setdefault(reverse, value.get("id"))
                    visit(child.kind, value, {})
                continue
            id_field, entity_field = link_fields(kind, child)
            child_links = {id_field: obj.get("id")}
            if entity_field:
                child_links[entity_field] = kind
            for item in value if child.many else [value]:
                if isinstance(item, dict):
                    visit(child.kind, item, child_links)

    for organization in organizations:
        visit("organization", organization, {})
    return {name: list(rows.values()) for name, rows in tables.items()}


#: The fields a row names its owners by: a row is nested under every object it names (HSDS's
#: tabular form links a contact to its organization, location and service at once).
_OWNER_FIELDS = (
    "organization_id",
    "service_id",
    "location_id",
    "service_at_location_id",
    "contact_id",
    "phone_id",
)


def _owner_ids(kind: str, row: dict[str, Any]) -> list[str]:
    if kind == "attribute":
        return [str(row["link_id"])] if row.get("link_id") else []
    if kind == "metadata":
        return [str(row["resource_id"])] if row.get("resource_id") else []
    return [str(row[f]) for f in _OWNER_FIELDS if row.get(f)]


def nest(tables: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Rows per table → nested organizations (the reverse of :func:`flatten`).

    One-to-one objects stay referenced by id (a service_at_location's ``location_id``, an
    attribute's ``taxonomy_term_id``): taxonomies and terms travel beside the organizations.
    """
    owned: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for name, rows in tables.items():
        kind = kind_of_table().get(name)
        if kind is None or kind == "organization":
            continue
        for row in rows:
            for owner in _owner_ids(kind, row):
                owned[owner].append((kind, row))

    by_id = {
        (kind_of_table().get(name), str(row.get("id"))): row
        for name, rows in tables.items()
        for row in rows
    }

    def build(kind: str, row: dict[str, Any]) -> dict[str, Any]:
        obj = dict(row)
        mine = owned.get(str(row.get("id")), [])
        for child in children(kind):
            if (kind, child.prop) in NESTED_AGAIN:
                target = by_id.get((child.kind, str(row.get(REVERSE_LINKS[(kind, child.prop)]))))
                if target is not None:
                    obj[child.prop] = dict(target)
                continue
            if (kind, child.prop) in REVERSE_LINKS:
                continue
            items = [build(child.kind, item) for item_kind, item in mine if item_kind == child.kind]
            if items:
                obj[child.prop] = items if child.many else items[0]
        return obj

    return [build("organization", row) for row in tables.get("organizations", [])]


def walk(kind: str, obj: Any, path: str = "") -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every HSDS object inside ``obj`` (itself first) as (kind, JSON path, object)."""
    if not isinstance(obj, dict):
        return
    yield kind, path, obj
    for child in children(kind):
        value = obj.get(child.prop)
        prefix = f"{path}.{child.prop}" if path else child.prop
        if child.many and isinstance(value, list):
            for index, item in enumerate(value):
                yield from walk(child.kind, item, f"{prefix}[{index}]")
        elif not child.many:
            yield from walk(child.kind, value, prefix)
