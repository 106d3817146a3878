"""Amendments (Fortschreibung): a new draft version of an active agreement that continues
its steps (their status), keeps what earlier versions reviewed, and takes over the open
referrals of the steps it continues once it becomes active."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from ..figures.counts import agreement_counts, office_of, recount
from ..models import Agreement, Referral
from ..models.vocabulary import TERMINAL_REFERRAL_STATUSES, AgreementStatus
from ..principal import Principal
from . import audit
from .agreement_content import agreement_to_change, build_goals, carry_over, check_offers


def move_open_referrals(session: Session, agreement: Agreement) -> None:
    """An amendment that becomes active takes over the open referrals of the steps it
    continues: they show (and can be withdrawn) on the new version's steps."""
    for step in agreement.steps:
        if step.origin_step_id is None:
            continue
        session.execute(
            update(Referral)
            .where(
                Referral.step_id == step.origin_step_id,
                Referral.status.not_in([s.value for s in TERMINAL_REFERRAL_STATUSES]),
            )
            .values(step_id=step.id)
        )


@dataclass(frozen=True)
class EarlierReview:
    """A review of an earlier version of an agreement, with each step's result by the
    step's description (the steps are the earlier version's)."""

    version: int
    created_at: datetime
    obstacles: str
    results: list[tuple[str, str, str]]  # (step description, result, note)


def earlier_reviews(session: Session, agreement: Agreement) -> list[EarlierReview]:
    """The reviews of every version this one amends, newest version first: a Fortschreibung
    keeps what was reviewed before it."""
    found: list[EarlierReview] = []
    previous_id = agreement.previous_id
    while previous_id is not None:
        previous = session.get(Agreement, previous_id)
        if previous is None:
            break
        steps = {step.id: step.description for step in previous.steps}
        for review in previous.reviews:
            found.append(
                EarlierReview(
                    previous.version,
                    review.created_at,
                    review.obstacles,
                    [(steps.get(r.step_id, ""), r.result, r.note) for r in review.results],
                )
            )
        previous_id = previous.previous_id
    return found


def amend_agreement(
    session: Session,
    principal: Principal,
    agreement_id: uuid.UUID,
    reason: str,
    goals: list[dict[str, Any]] | None = None,
) -> Agreement:
    """Start a Fortschreibung: a new draft version linked to the active one.

    Without ``goals`` the new draft copies the active version's goals and steps (with their
    status), ready to be edited; with ``goals`` it starts from those.
    """
    agreement = agreement_to_change(session, principal, agreement_id, "amend")
    if goals is None:
        goals = [
            {
                "field": goal.field,
                "target": goal.target,
                "due_date": goal.due_date,
                "steps": [
                    {
                        "description": step.description,
                        "owner_side": step.owner_side,
                        "due_date": step.due_date,
                        "status": step.status,
                        "origin_step_id": step.id,
                        "offer_id": step.offer_service_id,
                    }
                    for step in goal.steps
                ],
            }
            for goal in agreement.goals
        ]
    else:
        carry_over(session, agreement.id, goals)
    check_offers(session, goals)
    amendment = Agreement(
        client_id=agreement.client_id,
        version=agreement.version + 1,
        previous_id=agreement.id,
        status=AgreementStatus.DRAFT,
        amendment_reason=reason,
        created_by=principal.actor,
        goals=build_goals(goals),
    )
    session.add(amendment)
    session.flush()
    recount(
        session, Counter(), agreement_counts(amendment, office_of(session, amendment.client_id))
    )
    audit.record(
        session,
        principal,
        "amend",
        "agreement",
        amendment.id,
        agreement.client_id,
        previous_id=str(agreement.id),
        version=amendment.version,
    )
    return amendment


def discard_amendment(session: Session, principal: Principal, agreement_id: uuid.UUID) -> None:
    """Drop an unsigned amendment draft (the active version stays as it was)."""
    agreement = agreement_to_change(session, principal, agreement_id, "discard")
    audit.record(session, principal, "discard", "agreement", agreement.id, agreement.client_id)
    recount(
        session, agreement_counts(agreement, office_of(session, agreement.client_id)), Counter()
    )
    session.delete(agreement)
    session.flush()
