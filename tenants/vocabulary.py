"""The shared vocabulary: facts that the registry, the bus and the services all name.

Declared here once, in the bottom layer, so that the tenant registry, the message contracts,
the agreement service and the connectors cannot disagree about them (they once did: an
agency's ``status.answer`` passed the connector and was dead-lettered by the agreement service,
because three lists of answer types differed).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class AgencyKind(StrEnum):
    """The kinds of partner agency a referral can go to (one connector per kind and tenant)."""

    AUSLAENDERBEHOERDE = "auslaenderbehoerde"  # foreigners' office (ABH)
    JOBCENTER = "jobcenter"  # SGB II
    ARBEITSAGENTUR = "arbeitsagentur"  # employment agency, SGB III


AGENCY_KINDS: tuple[str, ...] = tuple(kind.value for kind in AgencyKind)

#: Short code of each kind's connector: suffix of its database and its service name
#: (PostgreSQL names stay under 63 characters).
SERVICE_CODES: Mapping[str, str] = {
    AgencyKind.AUSLAENDERBEHOERDE: "abh",
    AgencyKind.JOBCENTER: "jc",
    AgencyKind.ARBEITSAGENTUR: "aa",
}


class Channel(StrEnum):
    """How a connector reaches its agency."""

    AMQP = "amqp"  # a queue pair on the tenant's broker; the agency runs a small pika client
    WEBHOOK = "webhook"  # signed HTTPS POST out, signed callback in
    XML_FILE = "xml_file"  # XÖV-style XML files in an exchange folder


CHANNELS: tuple[str, ...] = tuple(channel.value for channel in Channel)


class Purpose(StrEnum):
    """What a consent allows data to be passed on for; a referral names one."""

    LANGUAGE = "language"
    EDUCATION = "education"
    WORK = "work"
    CHILDCARE = "childcare"
    RECOGNITION = "recognition"
    RESIDENCE = "residence"
    BENEFITS = "benefits"


PURPOSES: tuple[str, ...] = tuple(purpose.value for purpose in Purpose)


class DataCategory(StrEnum):
    """Categories of a client's data a consent names; only those leave with a referral."""

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


DATA_CATEGORIES: tuple[str, ...] = tuple(category.value for category in DataCategory)

#: Special categories (Art. 9 GDPR): flagged, and passed on only when explicitly consented.
SPECIAL_CATEGORIES = frozenset({DataCategory.HEALTH})


class ReferralStatus(StrEnum):
    """The closed loop of a referral (ARCHITECTURE.md): requested → sent → received →
    accepted | rejected → scheduled → started → completed | aborted; withdrawn and revoked
    from any open state."""

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

#: Message types a partner agency may send to Integra, and whether each answers a referral
#: (its payload names one in ``referral_id``) rather than starting something of its own (a
#: § 44a notice). The connectors accept exactly these from an agency; the agreement service
#: has a handler for each (tests/contract/test_message_flows.py holds both to it).
AGENCY_ANSWER_TYPES: Mapping[str, bool] = {
    "referral.received": True,
    "referral.accepted": True,
    "referral.rejected": True,
    "appointment.scheduled": True,
    "measure.started": True,
    "measure.completed": True,
    "measure.aborted": True,
    "status.answer": True,
    "course_obligation.imposed": False,
}

#: Answers after which the agency has nothing more to say about the referral.
FINAL_AGENCY_ANSWERS = frozenset({"referral.rejected", "measure.completed", "measure.aborted"})

#: Message types Integra sends to a partner agency (through its connector and channel): what
#: the agreement service tells it, a connector's status query about a referral the agency has
#: gone quiet on, and the technical rejection (message.rejected) of an answer it cannot take.
AGENCY_BOUND_TYPES = frozenset(
    {
        "referral.requested",
        "referral.withdrawn",
        "consent.revoked",
        "status.query",
        "message.rejected",
    }
)
