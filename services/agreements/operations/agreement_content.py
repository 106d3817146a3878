"""What an agreement version holds and the rules every change of it obeys: its goals and
steps built from input, the offers they link, the steps an amendment continues, and the
status a change requires."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InvalidInput, InvalidTransition
from ..models import Agreement, Goal, Step
from ..models.vocabulary import AgreementStatus, StepStatus
from ..principal import Principal
from .scope import agreement_in_scope

_STATUS_DE = {
    AgreementStatus.DRAFT: "Entwurf",
    AgreementStatus.SIGNED: "teilweise unterschrieben",
    AgreementStatus.ACTIVE: "aktiv",
    AgreementStatus.SUPERSEDED: "durch eine Fortschreibung ersetzt",
    AgreementStatus.CLOSED: "abgeschlossen",
}


#: A change of a version, named by the operation that makes it.
Change = Literal["edit", "sign", "review", "close", "amend", "discard"]


@dataclass(frozen=True)
class StatusRule:
    """The statuses a change is allowed in, and how its refusal (409) reads."""

    allowed: tuple[AgreementStatus, ...]
    code: str
    de: str
    en: str
    #: How the refusal reads (``amendment_pending``) if the change must wait for no pending
    #: amendment (a draft or signed successor); None: a pending amendment does not matter.
    pending: tuple[str, str] | None = None


_ACTIVE_ONLY = (AgreementStatus.ACTIVE,)
#: What status each change requires: the agreement's life (draft → signed → active → closed)
#: as the operations enforce it.
STATUS_RULES: dict[Change, StatusRule] = {
    "edit": StatusRule(
        (AgreementStatus.DRAFT,),
        "agreement_not_editable",
        "Nur ein Entwurf kann geändert werden; eine unterschriebene Fassung wird fortgeschrieben",
        "Only a draft can be changed; a signed version is amended instead",
    ),
    "sign": StatusRule(
        (AgreementStatus.DRAFT, AgreementStatus.SIGNED),
        "agreement_not_signable",
        "Diese Fassung kann nicht mehr unterschrieben werden",
        "This version can no longer be signed",
    ),
    "review": StatusRule(
        _ACTIVE_ONLY,
        "agreement_not_active",
        "Nur eine aktive Vereinbarung kann überprüft werden",
        "Only an active agreement can be reviewed",
    ),
    "close": StatusRule(
        _ACTIVE_ONLY,
        "agreement_not_active",
        "Nur eine aktive Vereinbarung kann abgeschlossen werden",
        "Only an active agreement can be closed",
        pending=(
            "Erst die offene Fortschreibung abschließen oder verwerfen.",
            "Finish or discard the pending amendment first.",
        ),
    ),
    "amend": StatusRule(
        _ACTIVE_ONLY,
        "agreement_not_active",
        "Nur eine aktive Vereinbarung kann fortgeschrieben werden",
        "Only an active agreement can be amended",
        pending=(
            "Es gibt bereits eine offene Fortschreibung dieser Vereinbarung.",
            "An amendment of this agreement is already pending.",
        ),
    ),
    "discard": StatusRule(
        (AgreementStatus.DRAFT,),
        "agreement_not_discardable",
        "Nur ein nicht unterschriebener Entwurf kann verworfen werden",
        "Only an unsigned draft can be discarded",
    ),
}


def agreement_to_change(
    session: Session, principal: Principal, agreement_id: uuid.UUID, change: Change
) -> Agreement:
    """The version ``agreement_id`` in the caller's scope, locked for ``change``, once its
    status allows the change and, where the rule says so, no amendment of it is pending
    (:data:`STATUS_RULES`; InvalidTransition otherwise)."""
    agreement = agreement_in_scope(session, principal, agreement_id, for_update=True)
    rule = STATUS_RULES[change]
    if agreement.status not in rule.allowed:
        status = AgreementStatus(agreement.status)
        raise InvalidTransition(
            rule.code,
            f"{rule.de} (Status der Vereinbarung: {_STATUS_DE[status]}).",
            f"{rule.en} (agreement status: {status.value}).",
        )
    if rule.pending is not None and pending_amendment(session, agreement) is not None:
        raise InvalidTransition("amendment_pending", *rule.pending)
    return agreement


def pending_amendment(session: Session, agreement: Agreement) -> Agreement | None:
    """The version's amendment still waiting for its signatures, if any."""
    return session.scalar(
        select(Agreement).where(
            Agreement.previous_id == agreement.id,
            Agreement.status.in_((AgreementStatus.DRAFT, AgreementStatus.SIGNED)),
        )
    )


Part = TypeVar("Part", Goal, Step)
#: How ``<part>_not_in_agreement`` reads, by part.
_NOT_IN_AGREEMENT = {
    "goal": (
        "Ziele gehören nicht zu dieser Vereinbarung.",
        "Goals do not belong to this agreement.",
    ),
    "step": (
        "Schritte gehören nicht zu dieser Vereinbarung.",
        "Steps do not belong to this agreement.",
    ),
}


def parts_named(
    parts: Iterable[Part], entries: Iterable[dict[str, Any]], part: Literal["goal", "step"]
) -> dict[uuid.UUID, Part]:
    """The version's ``parts`` (its goals or steps) by id, once every entry's ``<part>_id``
    names one of them; otherwise ``<part>_not_in_agreement`` (422: ``goal_not_in_agreement``,
    ``step_not_in_agreement``) naming the others."""
    by_id = {p.id: p for p in parts}
    key = f"{part}_id"
    unknown = [str(entry[key]) for entry in entries if entry[key] not in by_id]
    if unknown:
        de, en = _NOT_IN_AGREEMENT[part]
        raise InvalidInput(f"{part}_not_in_agreement", de, en, fields={f"{part}s": {key: unknown}})
    return by_id


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
