"""Assessments of the starting situation by field."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from ..models import Assessment
from ..principal import Principal
from . import audit
from .scope import client_in_scope, client_records


def record_assessment(
    session: Session, principal: Principal, client_id: uuid.UUID, fields: dict[str, Any]
) -> Assessment:
    """A new assessment; earlier ones stay as the case's history."""
    client = client_in_scope(session, principal, client_id)
    assessment = Assessment(client_id=client.id, fields=fields, created_by=principal.actor)
    session.add(assessment)
    session.flush()
    audit.record(
        session, principal, "create", "assessment", assessment.id, client.id, fields=sorted(fields)
    )
    return assessment


def list_assessments(
    session: Session, principal: Principal, client_id: uuid.UUID
) -> list[Assessment]:
    return client_records(
        session, principal, client_id, Assessment, "assessments", Assessment.created_at.desc()
    )
