"""Keeping the agency informed.

A quiet agency is asked where a referral stands (status.query), so a referral never waits
for news for ever: after ``status_query_after`` without an answer, once, and again after the
same time if it stays quiet; never about a closed referral; an answer resets the clock. The
agency's status.answer goes to the agreement service like any answer. A referral withdrawn
while the channel was handing it over is withdrawn at the agency too.

Same setting as test_consent_at_send_time: the connector on its own SQLite database with a
controllable clock and a fake agency channel."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from messaging.envelope import Envelope
from messaging.store import OutboxMessage
from services.connectors.channels.base import AgencyAnswer
from services.connectors.connector import Connector
from services.connectors.simulators import SimulatedAgency, SimulationRules

from . import test_consent_at_send_time as at_send_time
from .test_consent_at_send_time import Clock, FakeAgency, consume, requested, withdrawn

# The same connector, database, clock and fake agency as the consent-at-send-time tests.
settings = at_send_time.settings
engine = at_send_time.engine
clock = at_send_time.clock
agency = at_send_time.agency
connector = at_send_time.connector

QUIET = timedelta(days=3)


def queries(agency: FakeAgency) -> list[uuid.UUID]:
    return [e.correlation_id for e in agency.taken if e.type == "status.query"]


def answer(
    referral_id: uuid.UUID, message_type: str, at: datetime, **payload: object
) -> AgencyAnswer:
    """An agency's answer as a channel hands it over: the payload in its wire (JSON) form."""
    wire = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in payload.items()}
    body = {"referral_id": str(referral_id), **wire}
    return AgencyAnswer(uuid.uuid4(), message_type, 1, body, at, referral_id)


def pass_(connector: Connector) -> None:
    connector.status_queries.queue_due()
    connector.deliver_due()


def test_a_quiet_agency_is_asked_once_per_quiet_period(
    connector: Connector, agency: FakeAgency, clock: Clock
) -> None:
    request = requested(uuid.uuid4(), None)
    consume(connector, request)
    connector.deliver_due()
    referral = request.correlation_id
    clock.advance(QUIET - timedelta(minutes=1))
    pass_(connector)
    assert queries(agency) == []
    clock.advance(timedelta(minutes=2))
    pass_(connector)
    pass_(connector)
    assert queries(agency) == [referral]  # once, not at every pass
    clock.advance(QUIET)
    pass_(connector)
    assert queries(agency) == [referral, referral]
    (query,) = [e for e in agency.taken if e.type == "status.query"][:1]
    assert query.payload == {"referral_id": str(referral)}
    assert query.recipient == "jobcenter" and query.tenant == "freiburg"


def test_an_answer_resets_the_quiet_period(
    connector: Connector, agency: FakeAgency, clock: Clock
) -> None:
    request = requested(uuid.uuid4(), None)
    consume(connector, request)
    connector.deliver_due()
    clock.advance(QUIET - timedelta(hours=1))
    received = answer(request.correlation_id, "referral.received", clock(), received_at=clock())
    assert connector.intake(received).outcome == "accepted"
    clock.advance(timedelta(hours=2))
    pass_(connector)
    assert queries(agency) == []
    clock.advance(QUIET)
    pass_(connector)
    assert queries(agency) == [request.correlation_id]


def test_closed_referrals_and_undelivered_ones_are_not_asked_about(
    connector: Connector, agency: FakeAgency, clock: Clock
) -> None:
    finished = requested(uuid.uuid4(), None)
    withdrawn_one = requested(uuid.uuid4(), None)
    for request in (finished, withdrawn_one):
        consume(connector, request)
    connector.deliver_due()
    done = answer(finished.correlation_id, "measure.completed", clock(), completed_at=clock())
    assert connector.intake(done).outcome == "accepted"
    consume(connector, withdrawn(withdrawn_one, "by_office", clock()))
    agency.reachable = False
    never_delivered = requested(uuid.uuid4(), None)
    consume(connector, never_delivered)
    connector.deliver_due()
    clock.advance(QUIET * 2)
    agency.reachable = True
    connector.status_queries.queue_due()
    assert queries(agency) == []


def test_the_status_answer_goes_to_the_agreement_service(
    connector: Connector, agency: FakeAgency, clock: Clock
) -> None:
    request = requested(uuid.uuid4(), None)
    consume(connector, request)
    connector.deliver_due()
    reply = answer(request.correlation_id, "status.answer", clock(), status="accepted",
                   as_of=clock())  # fmt: skip
    assert connector.intake(reply).outcome == "accepted"
    with Session(connector.engine) as session:
        types = list(session.scalars(select(OutboxMessage.type).order_by(OutboxMessage.created_at)))
    assert types[-1] == "status.answer"


def test_the_simulated_agency_answers_a_status_query_with_what_it_said_last() -> None:
    agency = SimulatedAgency("jobcenter", SimulationRules.for_kind("jobcenter", decision_delay=0))
    referral = str(uuid.uuid4())
    query = {"type": "status.query", "payload": {"referral_id": referral}}
    agency.on_message(query)
    (unknown,) = agency.due_answers()
    assert (unknown["type"], unknown["payload"]["status"]) == ("status.answer", "unknown")
    agency.on_message(
        {
            "type": "referral.requested",
            "payload": {"referral_id": referral, "purpose": "work", "client": {}},
        }
    )
    released = agency.due_answers()
    assert [a["type"] for a in released][:2] == ["referral.received", "referral.accepted"]
    agency.on_message(query)
    (current,) = [a for a in agency.due_answers() if a["type"] == "status.answer"]
    assert current["payload"]["status"] == "accepted"
    assert datetime.fromisoformat(current["payload"]["as_of"]).tzinfo is UTC


def test_a_referral_withdrawn_while_being_handed_over_is_withdrawn_at_the_agency(
    connector: Connector, agency: FakeAgency, clock: Clock
) -> None:
    """The withdrawal comes in while the channel is delivering the request: the agency has
    the referral, so it must hear of the withdrawal (before, nobody told it)."""
    request = requested(uuid.uuid4(), None)
    consume(connector, request)
    real_deliver = agency.deliver

    def deliver_while_withdrawn(envelope: Envelope, signed: bytes) -> None:
        real_deliver(envelope, signed)
        if envelope.type == "referral.requested":
            consume(connector, withdrawn(request, "by_office", clock()))

    agency.deliver = deliver_while_withdrawn  # type: ignore[method-assign]
    connector.deliver_due()
    connector.deliver_due()
    told = [(e.type, e.payload.get("reason_code")) for e in agency.taken]
    assert told == [("referral.requested", None), ("referral.withdrawn", "by_office")]
