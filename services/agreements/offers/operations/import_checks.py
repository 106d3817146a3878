"""Checking an offer import batch whole, before anything of it is written: against the HSDS
schemas, Integra's extension schema and the references between records (a service at a location
that exists, an attribute's term). Every problem is named by its JSON path
(``services[1].status``) and refuses the batch; writing the checked batch is ``directory``'s job.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...errors import InvalidInput
from .. import models, taxonomy, validation
from ..models import OfferLocation, OfferTaxonomyTerm
from ..validation import Problem

#: The directory's tables a record of a batch is looked up in (and written to) by id.
Row = TypeVar(
    "Row",
    models.OfferOrganization,
    models.OfferLocation,
    models.OfferService,
    models.OfferTaxonomyTerm,
    models.OfferTaxonomy,
    models.OfferServiceAtLocation,
)
#: Rows looked up per query when a batch is matched against what the directory holds.
CHUNK = 500


class OfferImportInvalid(InvalidInput):
    """The batch was refused as a whole; ``problems`` names each record and what is wrong."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = validation.first(problems)
        more = len(problems) - len(self.problems)
        listed = [str(p) for p in self.problems] + ([f"... and {more} more"] if more else [])
        super().__init__(
            "offer_import_invalid",
            f"Import abgelehnt, nichts wurde übernommen: {len(problems)} Fehler.",
            f"Import refused, nothing was applied: {len(problems)} problem(s).",
            fields={"records": listed},
        )


@dataclass
class CheckedBatch:
    """A checked batch, with each record once (by id) and where it came from."""

    organizations: list[dict[str, Any]]
    taxonomies: dict[str, dict[str, Any]]
    terms: dict[str, dict[str, Any]]
    locations: dict[str, tuple[Any, dict[str, Any]]]  # id → (organization id, location)


def as_uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(str(value))


def existing_rows(session: Session, model: type[Row], ids: Iterable[str]) -> dict[str, Row]:
    """The rows of ``model`` the directory already holds for ``ids``, by id, in chunks."""
    found: dict[str, Row] = {}
    wanted = [as_uuid(i) for i in ids]
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        for row in session.scalars(select(model).where(model.id.in_(chunk))):
            found[str(row.id)] = row
    return found


def _prefix(index: int | None) -> str:
    return "" if index is None else f"[{index}]"


def check_batch(
    session: Session,
    organizations: list[Any],
    taxonomies: list[Any],
    terms: list[Any],
    single: bool,
) -> CheckedBatch:
    """The batch with each record once, or ``OfferImportInvalid`` naming every problem;
    ``single``: the batch was one organization, so paths start at its fields."""
    problems: list[Problem] = []
    batch = CheckedBatch([], {}, {}, {})
    for index, item in enumerate(taxonomies):
        problems += validation.check("taxonomy", item, f"taxonomies[{index}]")
        if isinstance(item, dict) and item.get("id"):
            batch.taxonomies[str(item["id"])] = item
    for index, item in enumerate(terms):
        problems += validation.check("taxonomy_term", item, f"taxonomy_terms[{index}]")
        if isinstance(item, dict) and item.get("id"):
            batch.terms[str(item["id"])] = item
    seen: dict[tuple[str, str], str] = {}

    def once(kind: str, ident: Any, path: str) -> None:
        key = (kind, str(ident))
        if key in seen:
            problems.append(Problem(f"{path}.id", f"duplicate {kind} id (also at {seen[key]})"))
        seen[key] = path or "(top)"

    for index, organization in enumerate(organizations):
        p = _prefix(None if single else index)
        problems += validation.check("organization", organization, p)
        if not isinstance(organization, dict):
            continue
        once("organization", organization.get("id"), p)
        services = organization.get("services", [])
        if not isinstance(services, list):
            problems.append(Problem(f"{p}.services" if p else "services", "must be a list"))
            services = []
        for l_index, location in enumerate(organization.get("locations") or []):
            if isinstance(location, dict) and location.get("id"):
                batch.locations.setdefault(str(location["id"]), (organization.get("id"), location))
                once("location", location["id"], validation.json_path(["locations", l_index], p))
        for s_index, service in enumerate(services):
            sp = validation.json_path(["services", s_index], p)
            problems += validation.check("service", service, sp)
            problems += validation.check_extension(service, sp)
            if not isinstance(service, dict):
                continue
            once("service", service.get("id"), sp)
            owner = service.get("organization_id")
            if owner and str(owner) != str(organization.get("id")):
                problems.append(
                    Problem(
                        f"{sp}.organization_id",
                        "differs from the organization the service is nested in",
                    )
                )
            for kind, _path, obj in validation_walk(service, sp):
                if kind == "service_at_location":
                    nested = obj.get("location")
                    if isinstance(nested, dict) and nested.get("id"):
                        batch.locations.setdefault(
                            str(nested["id"]), (organization.get("id"), nested)
                        )
                elif kind == "taxonomy_term" and obj.get("id"):
                    batch.terms.setdefault(str(obj["id"]), obj)
                    detail = obj.get("taxonomy_detail")
                    if isinstance(detail, dict) and detail.get("id"):
                        batch.taxonomies.setdefault(str(detail["id"]), detail)
        batch.organizations.append(organization)
    if problems:
        raise OfferImportInvalid(problems)
    problems += _check_references(session, batch, single)
    if problems:
        raise OfferImportInvalid(problems)
    return batch


def validation_walk(
    service: dict[str, Any], path: str
) -> Iterable[tuple[str, str, dict[str, Any]]]:
    from ..tree import walk

    return walk("service", service, path)


def _check_references(session: Session, batch: CheckedBatch, single: bool) -> list[Problem]:
    """A service at a location that exists, an attribute's term that exists (or is nested)."""
    problems: list[Problem] = []
    wanted_locations: dict[str, str] = {}
    wanted_terms: dict[str, str] = {}
    for index, organization in enumerate(batch.organizations):
        p = _prefix(None if single else index)
        for s_index, service in enumerate(organization.get("services") or []):
            sp = validation.json_path(["services", s_index], p)
            for kind, path, obj in validation_walk(service, sp):
                if kind == "service_at_location":
                    location_id = obj.get("location_id") or (obj.get("location") or {}).get("id")
                    if not location_id:
                        problems.append(Problem(f"{path}.location_id", "names no location"))
                    elif str(location_id) not in batch.locations:
                        wanted_locations[str(location_id)] = f"{path}.location_id"
                elif kind == "attribute":
                    nested = obj.get("taxonomy_term")
                    term_id = obj.get("taxonomy_term_id")
                    if (
                        term_id
                        and isinstance(nested, dict)
                        and str(nested.get("id")) != str(term_id)
                    ):
                        problems.append(
                            Problem(f"{path}.taxonomy_term_id", "differs from the nested term's id")
                        )
                    elif term_id and not nested and str(term_id) not in batch.terms:
                        wanted_terms[str(term_id)] = f"{path}.taxonomy_term_id"
    known_locations = existing_rows(session, OfferLocation, wanted_locations)
    problems += [
        Problem(path, "unknown location")
        for i, path in wanted_locations.items()
        if i not in known_locations
    ]
    known_terms: set[str] = set(existing_rows(session, OfferTaxonomyTerm, wanted_terms))
    known_terms |= {str(taxonomy.term_id(k.code)) for k in (*taxonomy.FIELDS, *taxonomy.KINDS)}
    problems += [
        Problem(path, "unknown taxonomy term")
        for i, path in wanted_terms.items()
        if i not in known_terms
    ]
    return problems
