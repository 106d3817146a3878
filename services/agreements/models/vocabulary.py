"""Closed vocabularies of the domain, shared by models, schemas and messages."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    COUNSELLOR = "counsellor"
    OFFICE_LEAD = "office_lead"
    TENANT_ADMIN = "tenant_admin"
    EVALUATOR = "evaluator"
    #: A service or partner agency acting through the bus (audit entries only; no API access).
    SERVICE = "service"


#: Roles that work with cases, always bound to one office.
CASE_ROLES = frozenset({Role.COUNSELLOR, Role.OFFICE_LEAD})


class AgencyKind(StrEnum):
    AUSLAENDERBEHOERDE = "auslaenderbehoerde"
    JOBCENTER = "jobcenter"
    ARBEITSAGENTUR = "arbeitsagentur"


class GoalField(StrEnum):
    LANGUAGE = "language"
    EDUCATION = "education"
    WORK = "work"
    CHILDCARE = "childcare"
    RECOGNITION = "recognition"
    OTHER = "other"


#: Assessment fields: the starting situation is recorded by these.
ASSESSMENT_FIELDS = ("language", "education", "work", "childcare", "recognition")


class Purpose(StrEnum):
    """What a consent allows data to be passed on for; a referral names one."""

    LANGUAGE = "language"
    EDUCATION = "education"
    WORK = "work"
    CHILDCARE = "childcare"
    RECOGNITION = "recognition"
    RESIDENCE = "residence"
    BENEFITS = "benefits"


class DataCategory(StrEnum):
    IDENTITY = "identity"
    CONTACT = "contact"
    RESIDENCE_STATUS = "residence_status"
    LANGUAGES = "languages"
    EDUCATION = "education"
    WORK_HISTORY = "work_history"
    QUALIFICATIONS = "qualifications"
    FAMILY = "family"
    HEALTH = "health"
    ASSESSMENT = "assessment"
    AGREEMENT_GOALS = "agreement_goals"


#: Special categories (Art. 9 GDPR): flagged, and passed on only when explicitly consented.
SPECIAL_CATEGORIES = frozenset({DataCategory.HEALTH})


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


class ReferralStatus(StrEnum):
    REQUESTED = "requested"
    SENT = "sent"
    RECEIVED = "received"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SCHEDULED = "scheduled"
    STARTED = "started"
    COMPLETED = "completed"
    ABORTED = "aborted"
    WITHDRAWN = "withdrawn"
    REVOKED = "revoked"


TERMINAL_REFERRAL_STATUSES = frozenset(
    {
        ReferralStatus.REJECTED,
        ReferralStatus.COMPLETED,
        ReferralStatus.ABORTED,
        ReferralStatus.WITHDRAWN,
        ReferralStatus.REVOKED,
    }
)
