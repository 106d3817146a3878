"""Consent at send time: the connector hands a referral to the agency only while the client's
consent is valid, checked right before every delivery attempt by the connector's clock, and
tells the agreement service when it will never send one and why.

The connector runs here on its own SQLite database with a controllable clock and a fake
agency channel; its handlers are called as the bus consumer calls them (one transaction per
message). The full loop on PostgreSQL and RabbitMQ is in
tests/integration/test_consent_at_send_time.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

from messaging import store as bus_store
from messaging.contracts import load_envelope, load_payload, new_envelope
from messaging.envelope import Envelope
from messaging.signing import ensure_tenant_keys
from messaging.store import OutboxMessage
from services.connectors import store
from services.connectors.channels.base import AgencyAnswer, DeliveryFailed
from services.connectors.connector import Connector
from services.connectors.store import AgencyDelivery, TrackedReferral
from tenants.registry import load_registry
from tenants.settings import Settings
from tests.fixtures.live import SHIPPED_REGISTRY

from .test_webhook import make_settings

TENANT = "freiburg"
KIND = "jobcenter"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Clock:
    """The connector's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class FakeAgency:
    """An agency channel that is reachable, unreachable (retryable) or refusing (for good)."""

    name: str = "webhook"
    reachable: bool = True
    refusing: bool = False
    taken: list[Envelope] = field(default_factory=list)
    attempts: int = 0

    def deliver(self, envelope: Envelope, signed: bytes) -> None:
        self.attempts += 1
        if not self.reachable:
            raise DeliveryFailed("connection refused")
        if self.refusing:
            raise DeliveryFailed("HTTP 400 from the agency: unknown office", retryable=False)
        self.taken.append(envelope)

    def receive(self, limit: int = 100) -> list[AgencyAnswer]:
        return []

    def settle(self, answer: AgencyAnswer) -> None:
        pass

    def refuse(self, answer: AgencyAnswer, reason_code: str, reason_text: str) -> None:
        pass

    def close(self) -> None:
        pass

    def referral_ids(self) -> set[uuid.UUID]:
        return {e.correlation_id for e in self.taken if e.type == "referral.requested"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path)
    ensure_tenant_keys(settings, TENANT)
    return settings


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'connector.db'}")
    with engine.begin() as connection:
        store.upgrade(connection)
    with engine.begin() as connection:
        bus_store.upgrade(connection)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def agency() -> FakeAgency:
    return FakeAgency()


@pytest.fixture
def connector(settings: Settings, engine: Engine, agency: FakeAgency, clock: Clock) -> Connector:
    tenant = load_registry(SHIPPED_REGISTRY).require(TENANT)
    partner = next(p for p in tenant.partners if p.kind == KIND)
    return Connector(
        settings, tenant, partner, engine, agency, delay_threshold=timedelta(hours=1), clock=clock
    )


# --- messages from the agreement service -----------------------------------------------------


def requested(consent_id: uuid.UUID, expires_at: datetime | None, *, version: int = 2) -> Envelope:
    referral_id = uuid.uuid4()
    payload: dict[str, Any] = {
        "referral_id": referral_id,
        "data_categories": ["identity"],
        "client": {
            "identity": {
                "given_name": "Amina",
                "family_name": "Haddad",
                "birth_date": date(1990, 4, 12),
            }
        },
        "purpose": "work",
    }
    if version == 2:
        payload["consent_expires_at"] = expires_at
    return new_envelope(
        "referral.requested",
        version,
        tenant=TENANT,
        sender="agreements",
        recipient=KIND,
        correlation_id=referral_id,
        consent_id=consent_id,
        payload=payload,
    )


def withdrawn(request: Envelope, reason_code: str, at: datetime) -> Envelope:
    return new_envelope(
        "referral.withdrawn",
        1,
        tenant=TENANT,
        sender="agreements",
        recipient=KIND,
        correlation_id=request.correlation_id,
        payload={
            "referral_id": request.correlation_id,
            "withdrawn_at": at,
            "reason_code": reason_code,
        },
    )


def revoked(consent_id: uuid.UUID, requests: list[Envelope], at: datetime) -> Envelope:
    return new_envelope(
        "consent.revoked",
        1,
        tenant=TENANT,
        sender="agreements",
        recipient=KIND,
        correlation_id=requests[0].correlation_id,
        consent_id=consent_id,
        payload={"revoked_at": at, "referral_ids": [r.correlation_id for r in requests]},
    )


def consume(connector: Connector, envelope: Envelope) -> None:
    """What the bus consumer does: the handler in one transaction, committed."""
    handlers = {
        "referral.requested": connector.on_referral_requested,
        "referral.withdrawn": connector.on_referral_withdrawn,
        "consent.revoked": connector.on_consent_revoked,
    }
    with Session(connector.engine) as session, session.begin():
        handlers[envelope.type](session, envelope)


# --- what the connector tells the agreement service and keeps --------------------------------


def reports(connector: Connector, referral_id: uuid.UUID) -> list[Envelope]:
    with Session(connector.engine) as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.correlation_id == referral_id)
            .order_by(OutboxMessage.sequence)
        ).all()
        return [load_envelope(row.envelope) for row in rows]


def not_sent(connector: Connector, referral_id: uuid.UUID) -> list[dict[str, Any]]:
    return [
        load_payload(e)
        for e in reports(connector, referral_id)
        if (e.type, e.version) == ("delivery.failed", 2)
    ]


def deliveries(connector: Connector, referral_id: uuid.UUID) -> list[tuple[str, str]]:
    with Session(connector.engine) as session:
        rows = session.scalars(
            select(AgencyDelivery)
            .where(AgencyDelivery.referral_id == referral_id)
            .order_by(AgencyDelivery.sequence)
        ).all()
        return [(row.type, row.status) for row in rows]


def closed(connector: Connector, referral_id: uuid.UUID) -> bool:
    with Session(connector.engine) as session:
        tracked = session.get(TrackedReferral, referral_id)
        assert tracked is not None
        return tracked.closed


def retry_for_a_while(connector: Connector, clock: Clock, step: timedelta, times: int) -> None:
    for _ in range(times):
        clock.advance(step)
        connector.deliver_due()


# --- the happy path ----------------------------------------------------------------------------


def test_a_valid_consent_is_delivered_in_the_agencys_contract(
    connector: Connector, agency: FakeAgency
) -> None:
    request = requested(uuid.uuid4(), START + timedelta(days=30))
    consume(connector, request)

    assert connector.deliver_due() == 1

    [taken] = agency.taken
    assert taken.id == request.id and taken.version == 1
    assert "consent_expires_at" not in taken.payload  # the agency keeps the contract it has
    assert load_payload(taken)["client"] == load_payload(request)["client"]
    assert [e.type for e in reports(connector, request.correlation_id)] == ["referral.delivered"]
    assert not closed(connector, request.correlation_id)


def test_a_consent_without_an_end_and_a_v1_request_are_delivered(
    connector: Connector, agency: FakeAgency, clock: Clock
) -> None:
    open_ended = requested(uuid.uuid4(), None)
    legacy = requested(uuid.uuid4(), None, version=1)  # in flight when v2 was introduced
    consume(connector, open_ended)
    consume(connector, legacy)
    clock.advance(timedelta(days=3650))

    assert connector.deliver_due() == 2
    assert agency.referral_ids() == {open_ended.correlation_id, legacy.correlation_id}


def test_a_consent_valid_at_the_attempt_is_delivered_even_if_it_ends_soon_after(
    connector: Connector, agency: FakeAgency, clock: Clock
) -> None:
    request = requested(uuid.uuid4(), START + timedelta(minutes=10))
    consume(connector, request)
    agency.reachable = False
    retry_for_a_while(connector, clock, timedelta(minutes=1), 5)
    agency.reachable = True
    clock.advance(timedelta(minutes=4))  # one minute left

    assert connector.deliver_due() == 1
    assert agency.referral_ids() == {request.correlation_id}
    assert not_sent(connector, request.correlation_id) == []


# --- expiry --------------------------------------------------------------------------------------


def test_consent_expiring_while_the_agency_is_unreachable_is_never_delivered(
    connector: Connector, agency: FakeAgency, clock: Clock
) -> None:
    expires_at = START + timedelta(hours=2)
    request = requested(uuid.uuid4(), expires_at)
    consume(connector, request)
    agency.reachable = False
    retry_for_a_while(connector, clock, timedelta(minutes=5), 6)  # 30 minutes of retries
    attempts = agency.attempts
    assert attempts >= 6 and not_sent(connector, request.correlation_id) == []

    clock.advance(timedelta(hours=2))  # the agency is back, but the consent has ended
    agency.reachable = True
    connector.deliver_due()
    retry_for_a_while(connector, clock, timedelta(minutes=5), 3)

    assert agency.taken == [] and agency.attempts == attempts  # not even tried again
    assert deliveries(connector, request.correlation_id) == [("referral.requested", "cancelled")]
    assert closed(connector, request.correlation_id)
    [report] = not_sent(connector, request.correlation_id)
    assert report["reason_code"] == "consent_expired"
    assert report["reason"] == f"consent expired at {expires_at.isoformat()}"
    assert report["failed_at"] == clock.now - timedelta(minutes=15)


def test_the_consent_is_checked_at_the_moment_of_each_attempt(
    connector: Connector, agency: FakeAgency, clock: Clock
) -> None:
    """The expiry falls between two attempts: the second one is not made."""
    request = requested(uuid.uuid4(), START + timedelta(seconds=90))
    consume(connector, request)
    agency.reachable = False
    connector.deliver_due()  # attempt 1 at START fails; the next is due 1 s later
    assert agency.attempts == 1
    agency.reachable = True
    clock.advance(timedelta(seconds=90))  # exactly the end: no longer valid

    assert connector.deliver_due() == 0
    assert agency.attempts == 1 and agency.taken == []
    [report] = not_sent(connector, request.correlation_id)
    assert report["reason_code"] == "consent_expired"


def test_a_request_arriving_after_its_consent_ended_is_not_even_queued(
    connector: Connector, agency: FakeAgency, clock: Clock
) -> None:
    """It waited in the outbox or on the bus past the consent's end."""
    request = requested(uuid.uuid4(), START - timedelta(minutes=1))
    consume(connector, request)

    assert deliveries(connector, request.correlation_id) == []
    assert closed(connector, request.correlation_id)
    [report] = not_sent(connector, request.correlation_id)
    assert report["reason_code"] == "consent_expired"
    connector.deliver_due()
    assert agency.attempts == 0


def test_a_second_request_for_the_same_referral_changes_nothing(
    connector: Connector, agency: FakeAgency
) -> None:
    request = requested(uuid.uuid4(), START - timedelta(minutes=1))
    consume(connector, request)
    consume(connector, request)  # redelivered by the bus under a new inbox entry

    assert len(not_sent(connector, request.correlation_id)) == 1


# --- revocation ------------------------------------------------------------------------------


def test_a_request_arriving_after_its_consent_was_revoked_is_reported_not_sent(
    connector: Connector, agency: FakeAgency, clock: Clock
) -> None:
    consent_id = uuid.uuid4()
    earlier = requested(consent_id, None)
    consume(connector, earlier)
    connector.deliver_due()
    consume(connector, revoked(consent_id, [earlier], START))
    late = requested(consent_id, START + timedelta(days=30))  # overtaken by the revocation

    consume(connector, late)
    connector.deliver_due()

    assert agency.referral_ids() == {earlier.correlation_id}
    assert deliveries(connector, late.correlation_id) == []
    [report] = not_sent(connector, late.correlation_id)
    assert report["reason_code"] == "consent_revoked"
    assert report["reason"] == f"consent revoked at {START.isoformat()}"


def test_revocation_while_the_agency_is_unreachable_is_reported_once(
    connector: Connector, agency: FakeAgency, clock: Clock
) -> None:
    """The agreement service sends referral.withdrawn (consent_revoked) for each open referral,
    then consent.revoked: the request is cancelled once and reported once, and the agency, which
    never had the referral, hears nothing of it."""
    consent_id = uuid.uuid4()
    request = requested(consent_id, START + timedelta(days=30))
    consume(connector, request)
    agency.reachable = False
    connector.deliver_due()
    at = clock.now + timedelta(minutes=1)

    consume(connector, withdrawn(request, "consent_revoked", at))
    consume(connector, revoked(consent_id, [request], at))
    agency.reachable = True
    retry_for_a_while(connector, clock, timedelta(minutes=5), 3)

    assert agency.taken == []
    assert deliveries(connector, request.correlation_id) == [("referral.requested", "cancelled")]
    [report] = not_sent(connector, request.correlation_id)
    assert report["reason_code"] == "consent_revoked"
    assert report["reason"] == f"consent revoked at {at.isoformat()}"


def test_revocation_arriving_before_the_withdrawal_is_reported_once_too(
    connector: Connector, agency: FakeAgency, clock: Clock
) -> None:
    consent_id = uuid.uuid4()
    request = requested(consent_id, None)
    consume(connector, request)
    agency.reachable = False
    connector.deliver_due()

    consume(connector, revoked(consent_id, [request], START))
    consume(connector, withdrawn(request, "consent_revoked", START))

    [report] = not_sent(connector, request.correlation_id)
    assert report["reason_code"] == "consent_revoked"
    assert deliveries(connector, request.correlation_id) == [("referral.requested", "cancelled")]


def test_revocation_after_delivery_still_tells_the_agency_to_erase(
    connector: Connector, agency: FakeAgency, clock: Clock
) -> None:
    consent_id = uuid.uuid4()
    request = requested(consent_id, START + timedelta(days=30))
    consume(connector, request)
    connector.deliver_due()

    consume(connector, withdrawn(request, "consent_revoked", START))
    consume(connector, revoked(consent_id, [request], START))
    clock.advance(timedelta(seconds=1))
    connector.deliver_due()

    taken = [e.type for e in agency.taken]
    # (The withdrawal still pending when consent.revoked arrives gives way to it.)
    assert taken[0] == "referral.requested" and taken[-1] == "consent.revoked"
    assert not_sent(connector, request.correlation_id) == []


# --- withdrawals of referrals the agency never got -------------------------------------------


def test_withdrawing_a_referral_that_was_not_sent_tells_the_agency_nothing(
    connector: Connector, agency: FakeAgency, clock: Clock
) -> None:
    request = requested(uuid.uuid4(), START + timedelta(minutes=1))
    consume(connector, request)
    agency.reachable = False
    connector.deliver_due()
    clock.advance(timedelta(minutes=2))
    agency.reachable = True
    connector.deliver_due()  # not sent: consent expired

    consume(connector, withdrawn(request, "by_office", clock.now))
    retry_for_a_while(connector, clock, timedelta(seconds=5), 3)

    assert agency.taken == []
    assert deliveries(connector, request.correlation_id) == [("referral.requested", "cancelled")]


def test_an_agency_refusal_is_reported_with_its_reason_code(
    connector: Connector, agency: FakeAgency
) -> None:
    agency.refusing = True
    request = requested(uuid.uuid4(), START + timedelta(days=30))
    consume(connector, request)

    connector.deliver_due()

    [report] = not_sent(connector, request.correlation_id)
    assert report["reason_code"] == "agency_refused"
    assert report["reason"] == "HTTP 400 from the agency: unknown office"
    assert deliveries(connector, request.correlation_id) == [("referral.requested", "failed")]
