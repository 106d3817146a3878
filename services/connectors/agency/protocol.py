"""The names an agency's system and Integra must agree on, as the agency side sees them.

Copies of the platform's declarations (it cannot import them: this package ships alone);
``tests/connectors/test_agency_package.py`` fails as soon as a copy differs from its source.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Content type of a message signed as a compact JWS (Integra's referrals; webhook answers).
JOSE_CONTENT_TYPE = "application/jose"
#: Content type of an agency's answer on the AMQP channel, and of notices such as
#: ``message.rejected`` that Integra sends unsigned.
JSON_CONTENT_TYPE = "application/json"

#: ``integra partner check`` on the webhook channel: an OPTIONS request to the agency's
#: endpoint with a signed probe in this header (message type ``PROBE_TYPE``, no case data).
#: Source: ``services.connectors.channels.webhook``.
PROBE_HEADER = "X-Integra-Probe"
PROBE_TYPE = "partner.probe"

#: The signature of a webhook answer: ES256 with the agency's own key (``kid`` in the header).
ANSWER_JWS_ALG = "ES256"
ANSWER_JWS_TYP = "integra-answer+jws"

#: The message types an agency may send, and whether each answers a referral (its payload
#: names one in ``referral_id``) rather than starting something of its own (a § 44a notice).
#: Source: ``tenants.vocabulary.AGENCY_ANSWER_TYPES``.
ANSWER_TYPES: Mapping[str, bool] = {
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


#: The exchange the agency publishes its answers to (``messaging.topology.AGENCY_EXCHANGE``).
AGENCY_EXCHANGE = "integra.agency"


def referrals_queue(tenant: str, kind: str) -> str:
    """The queue the agency reads Integra's messages from (``AgencyPair.referrals``)."""
    return f"{tenant}.agency.{kind}.referrals"


def answers_routing_key(tenant: str, kind: str) -> str:
    """The routing key of the agency's answers (``AgencyPair.answers``)."""
    return f"{tenant}.agency.{kind}.answers"
