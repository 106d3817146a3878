"""What an agreement version holds and the rules every change of it obeys: its goals and
steps built from input, the offers they link, the steps an amendment continues, and the
status a change requires."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InvalidInput, InvalidTransition
from ..models import Agreement, Goal, Step
from ..models.vocabulary import AgreementStatus, StepStatus

_STATUS_DE = {
    AgreementStatus.DRAFT: "Entwurf",
    AgreementStatus.SIGNED: "teilweise unterschrieben",
    AgreementStatus.ACTIVE: "aktiv",
    AgreementStatus.SUPERSEDED: "durch eine Fortschreibung ersetzt",
    AgreementStatus.CLOSED: "abgeschlossen",
}


def require_status(
    agreement: Agreement, allowed: Iterable[AgreementStatus], code: str, de: str, en: str
) -> None:
    if agreement.status not in tuple(allowed):
        status = AgreementStatus(agreement.status)
        raise InvalidTransition(
            code,
            f"{de} (Status der Vereinbarung: {_STATUS_DE[status]}).",
            f"{en} (agreement status: {status.value}).",
        )


def build_goals(goals: list[dict[str, Any]]) -> list[Goal]:
    built = []
    for position, goal_data in enumerate(goals):
        steps = [
            Step(
                position=step_position,
                description=step["description"],
                owner_side=step["owner_side"],
                due_date=step["due_date"],
                status=step.get("status", StepStatus.OPEN),
                origin_step_id=step.get("origin_step_id"),
                offer_service_id=step.get("offer_id"),
            )
            for step_position, step in enumerate(goal_data.get("steps", []))
        ]
        built.append(
            Goal(
                position=position,
                field=goal_data["field"],
                target=goal_data["target"],
                due_date=goal_data["due_date"],
                steps=steps,
            )
        )
    return built


def check_offers(session: Session, goals: list[dict[str, Any]]) -> None:
    """A step's offer must be in the tenant's directory (422 naming the step otherwise)."""
    from ..offers.models import OfferService

    wanted = {s["offer_id"] for g in goals for s in g.get("steps", []) if s.get("offer_id")}
    if not wanted:
        return
    known = set(session.scalars(select(OfferService.id).where(OfferService.id.in_(wanted))))
    problems = {
        str(g_index): {"steps": {str(s_index): {"offer_id": ["unknown offer"]}}}
        for g_index, goal in enumerate(goals)
        for s_index, step in enumerate(goal.get("steps", []))
        if step.get("offer_id") and step["offer_id"] not in known
    }
    if problems:
        raise InvalidInput(
            "offer_unknown",
            "Das Angebot gibt es im Angebotsverzeichnis nicht.",
            "The offer is not in the offer directory.",
            fields={"goals": problems},
        )


def carry_over(
    session: Session, previous_id: uuid.UUID | None, goals: list[dict[str, Any]]
) -> None:
    """Steps that continue a step of the previous version (``origin_step_id``) take over its
    status: an amendment never resets what was done. The origin must be a step of that
    version (a first version has none)."""
    origins = {
        step["origin_step_id"]
        for goal in goals
        for step in goal.get("steps", [])
        if step.get("origin_step_id")
    }
    if not origins:
        return
    known = {}
    if previous_id is not None:
        known = {
            step.id: step
            for step in session.scalars(
                select(Step)
                .join(Goal, Step.goal_id == Goal.id)
                .where(Goal.agreement_id == previous_id, Step.id.in_(origins))
            )
        }
    unknown = sorted(str(origin) for origin in origins - set(known))
    if unknown:
        raise InvalidInput(
            "origin_step_not_in_previous_version",
            "Ein Schritt kann nur einen Schritt der vorigen Fassung fortsetzen.",
            "A step can only continue a step of the previous version.",
            fields={"goals": {"steps": {"origin_step_id": unknown}}},
        )
    for goal in goals:
        for step in goal.get("steps", []):
            if step.get("origin_step_id"):
                step["status"] = known[step["origin_step_id"]].status
