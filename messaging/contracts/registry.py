"""Every published contract by (type, version), and the schema instance to check one with."""

from __future__ import annotations

from collections.abc import Mapping

from .agency_answers import (
    AppointmentScheduledV1,
    MeasureAbortedV1,
    MeasureCompletedV1,
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
)
from .base import Contract
from .delivery_reports import (
    DeliveryDelayedV1,
    DeliveryFailedV1,
    DeliveryFailedV2,
    ReferralDeliveredV1,
)
from .notices import CourseObligationImposedV1
from .rejection import ContractError, MessageRejectedV1

CONTRACTS: Mapping[tuple[str, int], type[Contract]] = {
    (schema.message_type, schema.version): schema
    for schema in (
        ReferralRequestedV1,
        ReferralRequestedV2,
        ReferralReceivedV1,
        ReferralAcceptedV1,
        ReferralRejectedV1,
        AppointmentScheduledV1,
        MeasureStartedV1,
        MeasureCompletedV1,
        MeasureAbortedV1,
        ReferralWithdrawnV1,
        ConsentRevokedV1,
        StatusQueryV1,
        StatusAnswerV1,
        MessageRejectedV1,
        CourseObligationImposedV1,
        ReferralDeliveredV1,
        DeliveryDelayedV1,
        DeliveryFailedV1,
        DeliveryFailedV2,
    )
}
MESSAGE_TYPES: frozenset[str] = frozenset(t for t, _ in CONTRACTS)

_SCHEMAS: dict[tuple[str, int], Contract] = {}


def contract_for(message_type: str, version: int) -> Contract:
    """The (cached) schema instance of a type and version; ContractError if unknown."""
    key = (message_type, version)
    schema = _SCHEMAS.get(key)
    if schema is None:
        cls = CONTRACTS.get(key)
        if cls is None:
            raise ContractError("unknown_type", f"{message_type} v{version}")
        schema = _SCHEMAS[key] = cls()
    return schema
