"""Closed vocabularies of the agreement service's domain, shared by models, schemas and views.

What the bus and the registry name as well (agency kinds, purposes, data categories, referral
statuses) is declared once in ``tenants.vocabulary`` and re-exported here.
"""

from __future__ import annotations

from enum import StrEnum

from tenants.vocabulary import (
    SPECIAL_CATEGORIES,
    TERMINAL_REFERRAL_STATUSES,
    AgencyKind,
    DataCategory,
    Purpose,
    ReferralStatus,
)

__all__ = [
    "ASSESSMENT_FIELDS",
    "CASE_ROLES",
    "SPECIAL_CATEGORIES",
    "TERMINAL_REFERRAL_STATUSES",
    "AgencyKind",
    "AgreementStatus",
    "Attainment",
    "CloseOutcome",
    "ClosingAnswer",
    "DataCategory",
    "GoalField",
    "OwnerSide",
    "Purpose",
    "ReferralStatus",
    "ResidenceStatus",
    "ReviewResult",
    "Role",
    "SigningParty",
    "StepStatus",
]


class Role(StrEnum):
    COUNSELLOR = "counsellor"
    OFFICE_LEAD = "office_lead"
    TENANT_ADMIN = "tenant_admin"
    EVALUATOR = "evaluator"
    #: A service or partner agency acting through the bus (audit entries only; no API access).
    SERVICE = "service"


#: Roles that work with cases, always bound to one office.
CASE_ROLES = frozenset({Role.COUNSELLOR, Role.OFFICE_LEAD})


class GoalField(StrEnum):
    LANGUAGE = "language"
    EDUCATION = "education"
    WORK = "work"
    CHILDCARE = "childcare"
    RECOGNITION = "recognition"
    OTHER = "other"


#: Assessment fields: the starting situation is recorded by these.
ASSESSMENT_FIELDS = ("language", "education", "work", "childcare", "recognition")


class ResidenceStatus(StrEnum):
    ASYLUM_SEEKER = "asylum_seeker"  # Aufenthaltsgestattung
    RECOGNISED_REFUGEE = "recognised_refugee"
    SUBSIDIARY_PROTECTION = "subsidiary_protection"
    TEMPORARY_PROTECTION = "temporary_protection"  # § 24 AufenthG
    RESIDENCE_PERMIT = "residence_permit"
    SETTLEMENT_PERMIT = "settlement_permit"
    TOLERATED = "tolerated"  # Duldung
    EU_CITIZEN = "eu_citizen"
    OTHER = "other"


class OwnerSide(StrEnum):
    CLIENT = "client"
    INSTITUTION = "institution"


class AgreementStatus(StrEnum):
    DRAFT = "draft"
    SIGNED = "signed"  # one of the two signatures given; content frozen
    ACTIVE = "active"  # both signatures
    SUPERSEDED = "superseded"  # an amendment became active
    CLOSED = "closed"


class SigningParty(StrEnum):
    CLIENT = "client"
    COUNSELLOR = "counsellor"


class StepStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    PARTLY = "partly"
    NOT_DONE = "not_done"


class ReviewResult(StrEnum):
    DONE = "done"
    PARTLY = "partly"
    NOT_DONE = "not_done"


class Attainment(StrEnum):
    REACHED = "reached"
    PARTLY = "partly"
    NOT_REACHED = "not_reached"


class CloseOutcome(StrEnum):
    GOALS_REACHED = "goals_reached"
    HANDED_OVER = "handed_over"
    BROKE_OFF = "broke_off"
    MOVED_AWAY = "moved_away"
    TIME_LIMIT = "time_limit"


class ClosingAnswer(StrEnum):
    """The client's answer to each of the two closing questions (asked in plain words)."""

    YES = "yes"
    PARTLY = "partly"
    NO = "no"
