"""Case scoping, built in: every lookup of case data goes through these functions.

A counsellor or office lead sees only the cases of their own office; an id outside that
scope is answered exactly like an unknown id (404), so ids of other offices leak nothing.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..errors import NotFound
from ..models import Agreement, Client, Consent, Referral
from ..principal import Principal


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
    office_id = principal.require_case_access()
    consent = session.scalar(
        select(Consent)
        .join(Client, Consent.client_id == Client.id)
        .where(Consent.id == consent_id, Client.office_id == office_id)
    )
    if consent is None:
        raise NotFound("consent")
    return consent


def agreement_in_scope(
    session: Session, principal: Principal, agreement_id: uuid.UUID, *, for_update: bool = False
) -> Agreement:
    office_id = principal.require_case_access()
    query = (
        select(Agreement)
        .join(Client, Agreement.client_id == Client.id)
        .where(Agreement.id == agreement_id, Client.office_id == office_id)
    )
    if for_update:
        query = query.with_for_update(of=Agreement)
    agreement = session.scalar(query)
    if agreement is None:
        raise NotFound("agreement")
    return agreement


def referral_in_scope(
    session: Session, principal: Principal, referral_id: uuid.UUID, *, for_update: bool = False
) -> Referral:
    office_id = principal.require_case_access()
    query = (
        select(Referral)
        .join(Client, Referral.client_id == Client.id)
        .where(Referral.id == referral_id, Client.office_id == office_id)
    )
    if for_update:
        query = query.with_for_update(of=Referral)
    referral = session.scalar(query)
    if referral is None:
        raise NotFound("referral")
    return referral
