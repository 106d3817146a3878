"""The agreement's life: draft → signed → active → closed; amendments are new versions.

A version with any signature is immutable; a change to an active agreement is an amendment
(Fortschreibung) that copies it into a new draft linked to the previous version. When the
amendment is signed by both parties it becomes active and the previous version superseded.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db import utcnow
from ..errors import InvalidTransition
from ..figures.counts import (
    agreement_counts,
    note_first_signing,
    office_of,
    recount,
    review_counts,
)
from ..models import Agreement, Client, Review, ReviewStepResult
from ..models.vocabulary import (
    AgreementStatus,
    SigningParty,
)
from ..principal import Principal
from . import audit
from .agreement_content import (
    agreement_to_change,
    build_goals,
    carry_over,
    check_offers,
    parts_named,
)
from .amendments import move_open_referrals
from .referrals import withdraw_open_referrals
from .review_schedule import next_review_due
from .scope import agreement_in_scope, client_in_scope, client_records

OPEN_STATUSES = (AgreementStatus.DRAFT, AgreementStatus.SIGNED, AgreementStatus.ACTIVE)


def _open_agreement(session: Session, client_id: uuid.UUID) -> Agreement | None:
    return session.scalar(
        select(Agreement)
        .where(Agreement.client_id == client_id, Agreement.status.in_(OPEN_STATUSES))
        .order_by(Agreement.version.desc())
        .limit(1)
    )


def draft_agreement(
    session: Session, principal: Principal, client_id: uuid.UUID, goals: list[dict[str, Any]]
) -> Agreement:
    client = client_in_scope(session, principal, client_id)
    if _open_agreement(session, client.id) is not None:
        raise InvalidTransition(
            "agreement_already_open",
            "Für diese Person besteht bereits eine offene Vereinbarung; bitte fortschreiben.",
            "This person already has an open agreement; amend it instead.",
        )
    check_offers(session, goals)
    carry_over(session, None, goals)  # a new agreement continues no step
    last_version = session.scalar(
        select(func.max(Agreement.version)).where(Agreement.client_id == client.id)
    )
    agreement = Agreement(
        client_id=client.id,
        version=(last_version or 0) + 1,
        status=AgreementStatus.DRAFT,
        created_by=principal.actor,
        goals=build_goals(goals),
    )
    session.add(agreement)
    session.flush()
    recount(session, Counter(), agreement_counts(agreement, client.office_id))
    audit.record(
        session,
        principal,
        "create",
        "agreement",
        agreement.id,
        client.id,
        version=agreement.version,
    )
    return agreement


def get_agreement(session: Session, principal: Principal, agreement_id: uuid.UUID) -> Agreement:
    agreement = agreement_in_scope(session, principal, agreement_id)
    audit.record(session, principal, "read", "agreement", agreement.id, agreement.client_id)
    return agreement


def list_agreements(
    session: Session, principal: Principal, client_id: uuid.UUID
) -> list[Agreement]:
    return client_records(session, principal, client_id, Agreement, "agreements", Agreement.version)


def replace_draft(
    session: Session, principal: Principal, agreement_id: uuid.UUID, goals: list[dict[str, Any]]
) -> Agreement:
    """Replace the goals and steps of a draft; anything signed is immutable."""
    agreement = agreement_to_change(session, principal, agreement_id, "edit")
    check_offers(session, goals)
    carry_over(session, agreement.previous_id, goals)
    agreement.goals = build_goals(goals)
    session.flush()
    audit.record(session, principal, "update", "agreement", agreement.id, agreement.client_id)
    return agreement


def sign_agreement(
    session: Session,
    principal: Principal,
    agreement_id: uuid.UUID,
    party: SigningParty,
    signed_on: date | None = None,
) -> Agreement:
    """Record one party's signature; with both, the agreement becomes active."""
    agreement = agreement_to_change(session, principal, agreement_id, "sign")
    if not any(goal.steps for goal in agreement.goals):
        raise InvalidTransition(
            "agreement_incomplete",
            "Unterschreiben setzt mindestens ein Ziel mit mindestens einem Schritt voraus.",
            "Signing needs at least one goal with at least one step.",
        )
    office = office_of(session, agreement.client_id)
    before = agreement_counts(agreement, office)
    on = signed_on or utcnow().date()
    if party == SigningParty.CLIENT:
        if agreement.client_signed_on is not None:
            raise _already_signed(party)
        agreement.client_signed_on = on
    else:
        if agreement.counsellor_signed_on is not None:
            raise _already_signed(party)
        agreement.counsellor_signed_on = on
        agreement.counsellor_signed_by = principal.actor
    if agreement.client_signed_on and agreement.counsellor_signed_on:
        agreement.status = AgreementStatus.ACTIVE
        agreement.activated_at = utcnow()
        # signed when the second signature was given: the first review is due from then
        signed = max(agreement.client_signed_on, agreement.counsellor_signed_on)
        agreement.next_review_due = next_review_due(session, signed)
        client = session.get(Client, agreement.client_id)
        if client is not None:
            note_first_signing(session, client, agreement.activated_at)
        if agreement.previous_id is not None:
            previous = session.get(Agreement, agreement.previous_id, with_for_update=True)
            if previous is not None:
                before += agreement_counts(previous, office)
                previous.status = AgreementStatus.SUPERSEDED
                previous.next_review_due = None
                recount(session, Counter(), agreement_counts(previous, office))
            move_open_referrals(session, agreement)
    else:
        agreement.status = AgreementStatus.SIGNED
    session.flush()
    recount(session, before, agreement_counts(agreement, office))
    audit.record(
        session,
        principal,
        "sign",
        "agreement",
        agreement.id,
        agreement.client_id,
        party=str(party),
        status=agreement.status,
    )
    return agreement


def _already_signed(party: SigningParty) -> InvalidTransition:
    who_de = "die Klientin/der Klient" if party == SigningParty.CLIENT else "die Beratung"
    return InvalidTransition(
        "already_signed",
        f"Diese Fassung hat {who_de} bereits unterschrieben.",
        f"The {party.value} has already signed this version.",
    )


def record_review(
    session: Session,
    principal: Principal,
    agreement_id: uuid.UUID,
    results: list[dict[str, Any]],
    obstacles: str,
) -> Review:
    """Record a review: a result per step, and the obstacles met."""
    agreement = agreement_to_change(session, principal, agreement_id, "review")
    steps = parts_named(agreement.steps, results, "step")
    office = office_of(session, agreement.client_id)
    before = agreement_counts(agreement, office)
    review = Review(
        agreement_id=agreement.id,
        created_at=utcnow(),
        obstacles=obstacles,
        created_by=principal.actor,
        results=[
            ReviewStepResult(step_id=r["step_id"], result=r["result"], note=r.get("note", ""))
            for r in results
        ],
    )
    for r in results:
        steps[r["step_id"]].status = r["result"]
    agreement.next_review_due = next_review_due(session, review.created_at.date())
    session.add(review)
    session.flush()
    recount(session, before, agreement_counts(agreement, office))
    recount(session, Counter(), review_counts(review, agreement, office))
    audit.record(
        session,
        principal,
        "review",
        "agreement",
        agreement.id,
        agreement.client_id,
        review_id=str(review.id),
    )
    return review


def close_agreement(
    session: Session,
    principal: Principal,
    agreement_id: uuid.UUID,
    outcome: str,
    balance: str,
    attainments: list[dict[str, Any]] | None = None,
    *,
    helped: str | None = None,
    easier_to_keep_going: str | None = None,
) -> Agreement:
    """Close with the outcome and the joint balance of successes and obstacles.

    ``helped`` and ``easier_to_keep_going`` are the client's answers to the two closing
    questions of the pilot's evaluation (``ClosingAnswer``); both optional, counted in the
    figures.
    """
    agreement = agreement_to_change(session, principal, agreement_id, "close")
    attainments = attainments or []
    goals = parts_named(agreement.goals, attainments, "goal")
    office = office_of(session, agreement.client_id)
    before = agreement_counts(agreement, office)
    for entry in attainments:
        goals[entry["goal_id"]].attainment = entry["attainment"]
    agreement.status = AgreementStatus.CLOSED
    agreement.outcome = outcome
    agreement.balance = balance
    agreement.helped = helped
    agreement.easier_to_keep_going = easier_to_keep_going
    agreement.next_review_due = None
    agreement.closed_at = utcnow()
    # A closed case waits for no answer: its open referrals are withdrawn, at the agencies too.
    withdraw_open_referrals(
        session, principal, agreement.client_id, "Fall abgeschlossen / case closed"
    )
    session.flush()
    recount(session, before, agreement_counts(agreement, office))
    audit.record(
        session, principal, "close", "agreement", agreement.id, agreement.client_id, outcome=outcome
    )
    return agreement
