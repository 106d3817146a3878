"""Consents to pass data to a partner agency, and their revocation."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ..db import utcnow
from ..errors import InvalidInput, InvalidTransition
from ..models import Consent
from ..principal import Principal
from . import audit
from .referrals import revoke_covered_referrals
from .scope import client_in_scope, consent_in_scope


def give_consent(
    session: Session, principal: Principal, client_id: uuid.UUID, data: dict[str, Any]
) -> Consent:
    client = client_in_scope(session, principal, client_id)
    consent = Consent(client_id=client.id, created_by=principal.actor, **data)
    session.add(consent)
    session.flush()
    audit.record(
        session,
        principal,
        "create",
        "consent",
        consent.id,
        client.id,
        recipient_kind=consent.recipient_kind,
    )
    return consent


def list_consents(session: Session, principal: Principal, client_id: uuid.UUID) -> list[Consent]:
    client = client_in_scope(session, principal, client_id)
    audit.record(session, principal, "read", "consents", client.id, client.id)
    return list(client.consents)


def revoke_consent(
    session: Session, principal: Principal, consent_id: uuid.UUID, at: datetime | None = None
) -> Consent:
    consent = consent_in_scope(session, principal, consent_id)
    if consent.revoked_at is not None:
        raise InvalidTransition(
            "consent_already_revoked",
            "Die Einwilligung wurde bereits widerrufen.",
            "The consent has already been revoked.",
        )
    at = at or utcnow()
    if at < consent.signed_at:
        raise InvalidInput(
            "invalid_input",
            "Der Widerruf kann nicht vor der Einwilligung liegen.",
            "A revocation cannot precede the consent.",
            fields={"revoked_at": ["must not be before signed_at"]},
        )
    consent.revoked_at = at
    session.flush()
    audit.record(session, principal, "revoke", "consent", consent.id, consent.client_id)
    revoke_covered_referrals(session, principal, consent)
    return consent
