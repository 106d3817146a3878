"""Referrals to partner agencies: creating one under a consent that covers it, reading them,
withdrawing them and revoking them with their consent; each tells the agency through the
outbox. Their status follows the closed loop of :mod:`.referral_history`."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import outgoing
from ..db import utcnow
from ..errors import InvalidInput, InvalidTransition
from ..models import Agreement, Client, Consent, Goal, Referral, Step
from ..models.vocabulary import (
    TERMINAL_REFERRAL_STATUSES,
    AgreementStatus,
    ReferralStatus,
)
from ..principal import Principal
from . import audit
from .referral_history import append_event, change_status
from .scope import client_in_scope, consent_in_scope, referral_in_scope


def _check_consent(consent: Consent, client: Client, data: dict[str, Any]) -> None:
    problems: dict[str, list[str]] = {}
    if consent.client_id != client.id:
        problems["consent_id"] = ["consent of another person"]
    elif consent.recipient_kind != data["recipient_kind"]:
        problems["consent_id"] = [f"consent is for {consent.recipient_kind}"]
    elif data["purpose"] not in consent.purposes:
        problems["purpose"] = ["purpose not covered by the consent"]
    if problems:
        raise InvalidInput(
            "consent_does_not_cover",
            "Die Einwilligung deckt diese Weiterleitung nicht ab.",
            "The consent does not cover this referral.",
            fields=problems,
        )
    now = utcnow()
    if consent.revoked_at is not None:
        raise InvalidTransition(
            "consent_revoked",
            "Die Einwilligung wurde widerrufen; es wird nichts weitergeleitet.",
            "The consent has been revoked; nothing is sent.",
        )
    if not consent.is_valid_at(now):
        raise InvalidTransition(
            "consent_not_valid",
            "Die Einwilligung ist abgelaufen oder noch nicht wirksam; "
            "es wird nichts weitergeleitet.",
            "The consent has expired or is not yet in effect; nothing is sent.",
        )


def _step_of_active_agreement(session: Session, client: Client, step_id: uuid.UUID) -> Step:
    step = session.scalar(
        select(Step)
        .join(Goal, Step.goal_id == Goal.id)
        .join(Agreement, Goal.agreement_id == Agreement.id)
        .where(
            Step.id == step_id,
            Agreement.client_id == client.id,
            Agreement.status == AgreementStatus.ACTIVE,
        )
    )
    if step is None:
        raise InvalidInput(
            "step_not_in_active_agreement",
            "Der Schritt gehört nicht zur aktiven Vereinbarung dieser Person.",
            "The step does not belong to this person's active agreement.",
            fields={"step_id": ["not a step of the active agreement"]},
        )
    return step


def _no_open_referral(session: Session, step_id: uuid.UUID, recipient_kind: str) -> None:
    """A step is referred to an agency once at a time: while a referral of it to that agency
    is open, a second one would only confuse the agency."""
    open_one = session.scalar(
        select(Referral.id)
        .where(
            Referral.step_id == step_id,
            Referral.recipient_kind == recipient_kind,
            Referral.status.not_in([s.value for s in TERMINAL_REFERRAL_STATUSES]),
        )
        .limit(1)
    )
    if open_one is not None:
        raise InvalidTransition(
            "referral_already_open",
            "Dieser Schritt ist an diese Stelle bereits weitergeleitet; die Weiterleitung ist "
            "noch offen.",
            "This step has an open referral to this agency already.",
        )


def create_referral(session: Session, principal: Principal, data: dict[str, Any]) -> Referral:
    """Create a referral in status ``requested``; the outbox carries it to the agency."""
    client = client_in_scope(session, principal, data["client_id"])
    consent = consent_in_scope(session, principal, data["consent_id"])
    _check_consent(consent, client, data)
    step_id = data.get("step_id")
    if step_id is not None:
        _step_of_active_agreement(session, client, step_id)
        _no_open_referral(session, step_id, data["recipient_kind"])
    referral = Referral(
        client_id=client.id,
        consent_id=consent.id,
        step_id=step_id,
        recipient_kind=data["recipient_kind"],
        purpose=data["purpose"],
        note=data.get("note", ""),
        created_by=principal.actor,
        status=ReferralStatus.REQUESTED,
        history=[],
    )
    session.add(referral)
    session.flush()
    append_event(session, referral, ReferralStatus.REQUESTED)
    audit.record(
        session,
        principal,
        "create",
        "referral",
        referral.id,
        client.id,
        recipient_kind=referral.recipient_kind,
        purpose=referral.purpose,
    )
    outgoing.referral_requested(session, referral)
    return referral


def get_referral(session: Session, principal: Principal, referral_id: uuid.UUID) -> Referral:
    referral = referral_in_scope(session, principal, referral_id)
    audit.record(session, principal, "read", "referral", referral.id, referral.client_id)
    return referral


def list_referrals(
    session: Session,
    principal: Principal,
    *,
    client_id: uuid.UUID | None = None,
    status: str | None = None,
    page: int = 1,
    page_size: int = 25,
    count: bool = True,
) -> tuple[list[Referral], int]:
    """A page of the office's referrals and their total (``count=False``: the page's length,
    for callers that show one page of one case and need no total)."""
    office_id = principal.require_case_access()
    query = (
        select(Referral)
        .join(Client, Referral.client_id == Client.id)
        .where(Client.office_id == office_id)
    )
    if client_id is not None:
        query = query.where(Referral.client_id == client_id)
    if status is not None:
        query = query.where(Referral.status == status)
    items = list(
        session.scalars(
            query.order_by(Referral.created_at.desc(), Referral.id)
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
    )
    total = (
        session.scalar(select(func.count()).select_from(query.subquery())) or 0
        if count
        else len(items)
    )
    for referral in items:
        audit.record(session, principal, "read", "referral", referral.id, referral.client_id)
    return items, total


def withdraw_open_referrals(
    session: Session, principal: Principal, client_id: uuid.UUID, note: str
) -> list[Referral]:
    """Withdraw every open referral of a client (the case is closed): each agency that got
    one hears of it; the history says why."""
    open_referrals = list(
        session.scalars(
            select(Referral)
            .where(
                Referral.client_id == client_id,
                Referral.status.not_in([s.value for s in TERMINAL_REFERRAL_STATUSES]),
            )
            .order_by(Referral.created_at)
            .with_for_update()
        )
    )
    for referral in open_referrals:
        event = change_status(
            session, principal, referral, ReferralStatus.WITHDRAWN, note=note,
            reason_code="case_closed",
        )  # fmt: skip
        outgoing.referral_withdrawn(session, referral, event.at, "by_office")
    return open_referrals


def withdraw_referral(
    session: Session, principal: Principal, referral_id: uuid.UUID, reason: str = ""
) -> Referral:
    referral = referral_in_scope(session, principal, referral_id, for_update=True)
    event = change_status(session, principal, referral, ReferralStatus.WITHDRAWN, note=reason)
    outgoing.referral_withdrawn(session, referral, event.at, "by_office")
    return referral


def revoke_covered_referrals(session: Session, principal: Principal, consent: Consent) -> None:
    """Revoking a consent revokes every open referral it covered, and tells the agencies:
    referral.withdrawn for each, and consent.revoked so they erase what they received."""
    open_referrals = list(
        session.scalars(
            select(Referral)
            .where(
                Referral.consent_id == consent.id,
                Referral.status.not_in([s.value for s in TERMINAL_REFERRAL_STATUSES]),
            )
            .order_by(Referral.created_at)
            .with_for_update()
        )
    )
    at = consent.revoked_at or utcnow()
    for referral in open_referrals:
        change_status(
            session,
            principal,
            referral,
            ReferralStatus.REVOKED,
            at=at,
            reason_code="consent_revoked",
        )
        outgoing.referral_withdrawn(session, referral, at, "consent_revoked")
    if open_referrals:
        outgoing.consent_revoked(session, consent, open_referrals, at)
