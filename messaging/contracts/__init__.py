"""Versioned message contracts: one marshmallow schema per (type, version).

Changing a contract means adding a new version, never editing a published one; every version
has a golden JSON example under ``tests/contract/golden/<type>/<version>.json``. Validation is
strict: unknown fields, unknown types or versions, and personal data without a consent id are
refused, before a message enters the outbox and again when it is received.

The modules, one job each: :mod:`.base` (what a contract is made of), :mod:`.client_data`
(the client's data by consented category), the payload contracts by who sends them
(:mod:`.agency_bound`, :mod:`.agency_answers`, :mod:`.notices`, :mod:`.delivery_reports`,
:mod:`.rejection`), :mod:`.registry` (every contract by type and version) and
:mod:`.validation` (envelopes and payloads held to their contracts). Import from here.
"""

# The vocabulary the contracts validate against, declared in tenants.vocabulary.
from tenants.vocabulary import AGENCY_KINDS, CHANNELS, DATA_CATEGORIES, PURPOSES

from .agency_answers import (
    REFERRAL_REJECTION_CODES,
    REFERRAL_STATUSES,
    AppointmentScheduledV1,
    MeasureAbortedV1,
    MeasureCompletedV1,
    MeasureSchema,
    MeasureStartedV1,
    ReferralAcceptedV1,
    ReferralReceivedV1,
    ReferralRejectedV1,
    StatusAnswerV1,
)
from .agency_bound import (
    ConsentRevokedV1,
    ReferralRequestedV1,
    ReferralRequestedV2,
    ReferralWithdrawnV1,
    StatusQueryV1,
    StepSchema,
)
from .base import Contract, StrictSchema
from .client_data import (
    ClientDataSchema,
    ContactSchema,
    IdentitySchema,
    LanguageSchema,
    ResidenceStatusSchema,
)
from .delivery_reports import (
    DELIVERY_FAILURE_CODES,
    DeliveryDelayedV1,
    DeliveryFailedV1,
    DeliveryFailedV2,
    ReferralDeliveredV1,
)
from .notices import CourseObligationImposedV1
from .registry import CONTRACTS, MESSAGE_TYPES, contract_for
from .rejection import REJECTION_CODES, ContractError, MessageRejectedV1
from .validation import (
    ENVELOPE_FIELDS,
    PARTY,
    dump_payload,
    is_validated,
    load_envelope,
    load_payload,
    new_envelope,
    validate_envelope,
)

__all__ = [
    "AGENCY_KINDS",
    "CHANNELS",
    "CONTRACTS",
    "DATA_CATEGORIES",
    "DELIVERY_FAILURE_CODES",
    "ENVELOPE_FIELDS",
    "MESSAGE_TYPES",
    "PARTY",
    "PURPOSES",
    "REFERRAL_REJECTION_CODES",
    "REFERRAL_STATUSES",
    "REJECTION_CODES",
    "AppointmentScheduledV1",
    "ClientDataSchema",
    "ConsentRevokedV1",
    "ContactSchema",
    "Contract",
    "ContractError",
    "CourseObligationImposedV1",
    "DeliveryDelayedV1",
    "DeliveryFailedV1",
    "DeliveryFailedV2",
    "IdentitySchema",
    "LanguageSchema",
    "MeasureAbortedV1",
    "MeasureCompletedV1",
    "MeasureSchema",
    "MeasureStartedV1",
    "MessageRejectedV1",
    "ReferralAcceptedV1",
    "ReferralDeliveredV1",
    "ReferralReceivedV1",
    "ReferralRejectedV1",
    "ReferralRequestedV1",
    "ReferralRequestedV2",
    "ReferralWithdrawnV1",
    "ResidenceStatusSchema",
    "StatusAnswerV1",
    "StatusQueryV1",
    "StepSchema",
    "StrictSchema",
    "contract_for",
    "dump_payload",
    "is_validated",
    "load_envelope",
    "load_payload",
    "new_envelope",
    "validate_envelope",
]
