"""Invalid or failing messages go to the dead-letter queue with a reason; the rest flow on."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from deploy.wiring import bus_transport
from messaging.consumer import DEAD_REASON_HEADER, MessageConsumer
from messaging.contracts import ContractError
from messaging.envelope import Envelope
from messaging.signing import BusKeyring, EnvelopeSigner, ensure_tenant_keys
from messaging.store import DeadLetter, InboxMessage
from tenants.registry import Tenant
from tenants.settings import Settings

from .factories import referral_requested
from .helpers import (
    count,
    dead_letters,
    effects,
    publish_raw,
    queue_depth,
    record_effect,
    running,
    sign_raw,
    wait_for,
)

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


def test_invalid_messages_are_dead_lettered_and_valid_ones_behind_processed(
    settings: Settings, bus: Tenant, pg_engine: Engine
) -> None:
    signer = EnvelopeSigner(BusKeyring.load(settings, bus.slug))
    rk = f"{bus.slug}.jobcenter.referral.requested"

    def valid() -> tuple[str, bytes, str]:
        envelope = referral_requested(bus.slug)
        return (rk, signer.sign(envelope), str(envelope.id))

    good = referral_requested(bus.slug).to_dict()
    tampered = bytearray(signer.sign(referral_requested(bus.slug)))
    tampered[-5] = ord("A") if tampered[-5] != ord("A") else ord("B")
    other_tenant = dict(good, id=str(uuid.uuid4()), tenant="someone-else")
    unknown_type = dict(good, id=str(uuid.uuid4()), type="referral.teleported")
    schema_invalid = dict(good, id=str(uuid.uuid4()))
    schema_invalid["payload"] = dict(good["payload"], purpose="sightseeing")
    # a key ring of another tenant: a valid signature by a key this tenant does not know
    ensure_tenant_keys(settings, "stranger")
    foreign = EnvelopeSigner(BusKeyring.load(settings, "stranger")).sign(
        referral_requested("stranger")
    )
    invalid = [
        (rk, bytes(tampered), None, "invalid_signature"),
        (rk, sign_raw(settings, bus.slug, other_tenant), other_tenant["id"], "wrong_tenant"),
        (rk, sign_raw(settings, bus.slug, unknown_type), unknown_type["id"], "unknown_type"),
        (rk, sign_raw(settings, bus.slug, schema_invalid), schema_invalid["id"], "schema_invalid"),
        (rk, os.urandom(300 * 1024), None, "oversized"),
        (rk, b"not a jws at all", None, "malformed"),
        (rk, foreign, None, "unknown_key"),
    ]
    stream: list[tuple[str, bytes, str | None]] = []
    expected_valid = []
    for routing_key, body, message_id, _reason in invalid:
        stream.append((routing_key, body, message_id))
        v = valid()
        stream.append(v)
        expected_valid.append(uuid.UUID(v[2]))

    consumer = MessageConsumer(bus_transport(settings), bus, "jobcenter", pg_engine)
    consumer.register("referral.requested", record_effect)
    with running(consumer):
        publish_raw(settings, bus, stream)
        wait_for(lambda: count(pg_engine, InboxMessage) == len(expected_valid), what="valid")
        wait_for(lambda: count(pg_engine, DeadLetter) == len(invalid), what="dead letters")
    assert [e.message_id for e in effects(pg_engine)] == expected_valid
    dlq = dead_letters(settings, bus, "jobcenter")
    assert sorted(h[DEAD_REASON_HEADER] for h, _ in dlq) == sorted(r for *_, r in invalid)
    with Session(pg_engine) as session:
        logged = session.scalars(select(DeadLetter.reason_code)).all()
    assert sorted(logged) == sorted(r for *_, r in invalid)


def test_handler_that_keeps_failing_is_dead_lettered_after_retries(
    settings: Settings, bus: Tenant, pg_engine: Engine
) -> None:
    poison = referral_requested(bus.slug, note="poison")
    calls: list[uuid.UUID] = []

    def picky(session: Session, envelope: Envelope) -> None:
        calls.append(envelope.id)
        if envelope.payload.get("note") == "poison":
            raise RuntimeError("cannot handle this one")
        record_effect(session, envelope)

    signer = EnvelopeSigner(BusKeyring.load(settings, bus.slug))
    behind = [referral_requested(bus.slug) for _ in range(3)]
    consumer = MessageConsumer(
        bus_transport(settings), bus, "jobcenter", pg_engine, retry_delays=(0.05, 0.1)
    )
    consumer.register("referral.requested", picky)
    with running(consumer):
        publish_raw(
            settings,
            bus,
            [(e.routing_key, signer.sign(e), str(e.id)) for e in [poison, *behind]],
        )
        wait_for(lambda: count(pg_engine, DeadLetter) == 1)
        wait_for(lambda: count(pg_engine, InboxMessage) == 3)
        wait_for(lambda: queue_depth(settings, bus, f"{bus.slug}.jobcenter.dead") == 1)
    assert calls.count(poison.id) >= 3  # the batch attempt, then each retry
    assert [e.message_id for e in effects(pg_engine)] == [e.id for e in behind]
    dlq = dead_letters(settings, bus, "jobcenter")
    assert [h[DEAD_REASON_HEADER] for h, _ in dlq] == ["handler_failed"]
    assert "cannot handle this one" in dlq[0][0]["x-integra-dead-detail"]


def test_a_message_that_breaks_its_receivers_rules_is_dead_lettered_at_once(
    settings: Settings, bus: Tenant, pg_engine: Engine
) -> None:
    """A handler that refuses a message for good (ContractError: e.g. an answer from an
    agency the referral did not go to) is not retried: the message goes to the dead letters
    with the handler's own reason, and the messages behind it take effect."""
    refused = referral_requested(bus.slug, note="wrong agency")
    calls: list[uuid.UUID] = []

    def strict(session: Session, envelope: Envelope) -> None:
        calls.append(envelope.id)
        if envelope.payload.get("note") == "wrong agency":
            raise ContractError("wrong_agency", "the referral went to another agency")
        record_effect(session, envelope)

    signer = EnvelopeSigner(BusKeyring.load(settings, bus.slug))
    behind = [referral_requested(bus.slug) for _ in range(2)]
    consumer = MessageConsumer(
        bus_transport(settings), bus, "jobcenter", pg_engine, retry_delays=(0.5, 0.5, 0.5)
    )
    consumer.register("referral.requested", strict)
    with running(consumer):
        publish_raw(
            settings,
            bus,
            [(e.routing_key, signer.sign(e), str(e.id)) for e in [refused, *behind]],
        )
        wait_for(lambda: count(pg_engine, DeadLetter) == 1)
        wait_for(lambda: count(pg_engine, InboxMessage) == 2)
        wait_for(lambda: queue_depth(settings, bus, f"{bus.slug}.jobcenter.dead") == 1)
    assert calls.count(refused.id) <= 2  # the batch attempt and one alone: no retries
    with Session(pg_engine) as session:
        assert session.scalars(select(DeadLetter.reason_code)).all() == ["wrong_agency"]
    dlq = dead_letters(settings, bus, "jobcenter")
    assert [h[DEAD_REASON_HEADER] for h, _ in dlq] == ["wrong_agency"]


def test_database_outage_is_retried_not_dead_lettered(
    settings: Settings, bus: Tenant, pg_engine: Engine
) -> None:
    from sqlalchemy.exc import OperationalError

    calls: list[int] = []

    def database_down_at_first(session: Session, envelope: Envelope) -> None:
        calls.append(1)
        if len(calls) <= 3:  # the batch attempt and both single attempts of the first delivery
            raise OperationalError("INSERT ...", {}, ConnectionError("server closed"))
        record_effect(session, envelope)

    envelope = referral_requested(bus.slug)
    signer = EnvelopeSigner(BusKeyring.load(settings, bus.slug))
    consumer = MessageConsumer(
        bus_transport(settings), bus, "jobcenter", pg_engine, retry_delays=(0.01,)
    )
    consumer.register("referral.requested", database_down_at_first)
    with running(consumer):
        publish_raw(settings, bus, [(envelope.routing_key, signer.sign(envelope), None)])
        wait_for(lambda: count(pg_engine, InboxMessage) == 1)
    assert count(pg_engine, DeadLetter) == 0
    assert [e.message_id for e in effects(pg_engine)] == [envelope.id]
