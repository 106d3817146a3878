"""The pika client Integra ships for agencies, against the real broker: it receives a
referral signed by the tenant, acknowledges it, and its status answers reach the referral."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pika
import pytest

from deploy.wiring import bus_transport
from messaging import topology
from messaging.signing import BusKeyring
from services.connectors.agency.amqp_client import AgencyClient, ReceivedMessage
from tests.fixtures.factories import client_body, consent_body
from tests.fixtures.live import (
    LiveApi,
    LivePlatform,
    counsellor_api,
    live_on_postgres_and_rabbitmq,
)

KIND = "arbeitsagentur"  # Freiburg's employment agency uses the AMQP channel


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, run_id: str
) -> Iterator[LivePlatform]:
    yield from live_on_postgres_and_rabbitmq(
        tmp_path_factory, postgres_url, run_id, "agency", simulate=False
    )


@pytest.fixture(scope="module")
def api(live: LivePlatform) -> LiveApi:
    return counsellor_api(live)


@pytest.fixture
def agency(live: LivePlatform) -> Iterator[AgencyClient]:
    tenant = live.registry.require("freiburg")
    url = bus_transport(live.settings).url(tenant, topology.agency_party(KIND))
    jwks = BusKeyring.load(live.settings, "freiburg").verification_keys.as_dict(private=False)
    client = AgencyClient(url, KIND, tenant="freiburg", tenant_jwks=jwks)
    yield client
    client.close()


def _fetch_one(agency: AgencyClient, timeout: float = 20.0) -> ReceivedMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = agency.fetch()
        if messages:
            assert len(messages) == 1
            return messages[0]
        time.sleep(0.1)
    raise AssertionError("no referral reached the agency")


def test_agency_client_receives_acknowledges_and_answers(
    live: LivePlatform, api: LiveApi, agency: AgencyClient
) -> None:
    person = api.call("POST", "clients", client_body(), expect=201)
    consent = api.call(
        "POST",
        f"clients/{person['id']}/consents",
        consent_body(
            recipient_kind=KIND,
            purposes=["recognition"],
            data_categories=["identity", "qualifications"],
        ),
        expect=201,
    )
    referral = api.call(
        "POST",
        "referrals",
        {
            "client_id": person["id"],
            "recipient_kind": KIND,
            "purpose": "recognition",
            "consent_id": consent["id"],
        },
        expect=201,
    )
    message = _fetch_one(agency)
    assert message.error is None and message.envelope is not None
    assert message.envelope["payload"]["referral_id"] == referral["id"]
    assert set(message.envelope["payload"]["client"]) == {"identity", "qualifications"}
    agency.ack(message)
    assert agency.fetch() == []  # acknowledged: not delivered again

    now = datetime.now(UTC).isoformat()
    answer_id = agency.send(
        "referral.accepted",
        {"referral_id": referral["id"], "accepted_at": now},
        correlation_id=referral["id"],
    )
    agency.send(
        "referral.accepted",
        {"referral_id": referral["id"], "accepted_at": now},
        correlation_id=referral["id"],
        message_id=answer_id,
    )  # a resend: one effect
    shown = api.wait_for(f"referrals/{referral['id']}", lambda r: r["status"] == "accepted")
    assert [h["status"] for h in shown["history"]] == ["requested", "sent", "accepted"]
    time.sleep(1.0)
    again = api.call("GET", f"referrals/{referral['id']}", expect=200)
    assert len(again["history"]) == 3


def test_an_answer_for_an_unknown_referral_comes_back_as_rejected(
    agency: AgencyClient,
) -> None:
    import uuid

    stray = str(uuid.uuid4())
    agency.send(
        "referral.received",
        {"referral_id": stray, "received_at": datetime.now(UTC).isoformat()},
        correlation_id=stray,
    )
    notice = _fetch_one(agency)
    assert notice.type == "message.rejected"
    assert notice.envelope is not None
    assert notice.envelope["payload"]["reason_code"] == "unknown_referral"
    agency.ack(notice)


def test_the_agency_user_cannot_read_integra_queues(live: LivePlatform) -> None:
    tenant = live.registry.require("freiburg")
    url = bus_transport(live.settings).url(tenant, topology.agency_party(KIND))
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            channel.basic_get("freiburg.agreements.inbox")
        assert refused.value.reply_code == 403
    finally:
        if connection.is_open:
            connection.close()
