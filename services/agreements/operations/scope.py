"""Case scoping, built in: every lookup of case data goes through these functions.

A counsellor or office lead sees only the cases of their own office; an id outside that
scope is answered exactly like an unknown id (404), so ids of other offices leak nothing.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..errors import NotFound
from ..models import Agreement, Assessment, Client, Consent, Referral
from ..principal import Principal
from . import audit

#: What belongs to a client's case and is reached through the client's office.
CaseObject = TypeVar("CaseObject", Consent, Agreement, Referral)
#: What a client's case keeps a list of.
ClientRecord = TypeVar("ClientRecord", Agreement, Assessment)


def visible_clients(principal: Principal) -> Select[Client]:
    return select(Client).where(Client.office_id == principal.require_case_access())


def client_in_scope(session: Session, principal: Principal, client_id: uuid.UUID) -> Client:
    # by primary key: a page that looks the client up for each part of the case (consents,
    # assessments, agreements...) reads it once and then finds it in the identity map
    office_id = principal.require_case_access()
    client = session.get(Client, client_id)
    if client is None or client.office_id != office_id:
        raise NotFound("client")
    return client


def consent_in_scope(session: Session, principal: Principal, consent_id: uuid.UUID) -> Consent:
    return _case_object_in_scope(session, principal, Consent, consent_id, "consent")


def agreement_in_scope(
    session: Session, principal: Principal, agreement_id: uuid.UUID, *, for_update: bool = False
) -> Agreement:
    return _case_object_in_scope(
        session, principal, Agreement, agreement_id, "agreement", for_update=for_update
    )


def referral_in_scope(
    session: Session, principal: Principal, referral_id: uuid.UUID, *, for_update: bool = False
) -> Referral:
    return _case_object_in_scope(
        session, principal, Referral, referral_id, "referral", for_update=for_update
    )


def client_records(
    session: Session,
    principal: Principal,
    client_id: uuid.UUID,
    model: type[ClientRecord],
    records: str,
    *order_by: Any,
) -> list[ClientRecord]:
    """Every ``model`` row of a client in scope, in ``order_by``; the read of the client's
    ``records`` (``agreements``, ``assessments``) is audited."""
    client = client_in_scope(session, principal, client_id)
    audit.record(session, principal, "read", records, client.id, client.id)
    return list(
        session.scalars(select(model).where(model.client_id == client.id).order_by(*order_by))
    )


def _case_object_in_scope(
    session: Session,
    principal: Principal,
    model: type[CaseObject],
    object_id: uuid.UUID,
    name: str,
    *,
    for_update: bool = False,
) -> CaseObject:
    """The ``model`` row ``object_id`` if its client is in the caller's office; otherwise
    ``NotFound(name)``, exactly as for an unknown id. ``for_update`` locks the row."""
    office_id = principal.require_case_access()
    query = (
        select(model)
        .join(Client, model.client_id == Client.id)
        .where(model.id == object_id, Client.office_id == office_id)
    )
    if for_update:
        query = query.with_for_update(of=model)
    found = session.scalar(query)
    if found is None:
        raise NotFound(name)
    return found
