"""Editing one offer in the admin portal: a re-import of its organization with that service
changed, so an edit passes exactly the checks of an import and derives the same columns."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from ...db import utcnow
from ...errors import NotFound
from ...principal import Principal
from ..models import OfferService
from .directory import ImportResult, import_directory
from .exchange import export_organizations


def update_service(
    session: Session, principal: Principal, service_id: uuid.UUID, changes: dict[str, Any]
) -> ImportResult:
    """Change an offer's fields (a value None removes the field) as a re-import of its
    organization with that service changed: the same checks, the same derived columns."""
    service = session.get(OfferService, service_id)
    if service is None:
        raise NotFound("offer")
    organization = next(
        o for o in export_organizations(session) if o["id"] == str(service.organization_id)
    )
    for index, document in enumerate(organization["services"]):
        if document["id"] == str(service_id):
            changed = {**document, **changes}
            organization["services"][index] = {k: v for k, v in changed.items() if v is not None}
    if "integra_free_places" in changes or "integra_wait_weeks" in changes:
        organization_services = organization["services"]
        for document in organization_services:
            if document["id"] == str(service_id):
                document["integra_capacity_updated"] = utc_now_iso()
    return import_directory(session, principal, [organization], single=True)


def utc_now_iso() -> str:
    return utcnow().isoformat()
