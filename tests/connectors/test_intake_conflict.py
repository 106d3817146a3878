"""An agency's answer arriving while another transaction numbers a message about the same
referral (the delivery loop reporting a delivery, say) collides with it on the outbox's
(correlation, sequence) key. The answer must still be taken, in its turn, instead of the
agency getting a 500: on PostgreSQL, where the second writer waits for the first and then
hits the unique index, as it happens between a webhook callback and the delivery loop.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from messaging import outbox
from messaging import store as bus_store
from messaging.contracts import new_envelope
from messaging.signing import ensure_tenant_keys
from messaging.store import OutboxMessage
from services.connectors import store
from services.connectors.channels.base import AgencyAnswer, IntakeResult
from services.connectors.connector import Connector
from tenants.registry import load_registry
from tenants.settings import Settings
from tests.fixtures.live import SHIPPED_REGISTRY

from .test_consent_at_send_time import KIND, TENANT, FakeAgency, consume, requested
from .test_webhook import make_settings


@pytest.fixture
def pg_connector_engine(postgres_url: str) -> Iterator[Engine]:
    name = f"integra_intake_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(make_url(postgres_url).set(database=name))
    try:
        with engine.begin() as connection:
            store.upgrade(connection)
        with engine.begin() as connection:
            bus_store.upgrade(connection)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path)
    ensure_tenant_keys(settings, TENANT)
    return settings


def test_an_answer_colliding_with_a_concurrent_report_is_taken(
    settings: Settings, pg_connector_engine: Engine
) -> None:
    tenant = load_registry(SHIPPED_REGISTRY).require(TENANT)
    partner = next(p for p in tenant.partners if p.kind == KIND)
    connector = Connector(settings, tenant, partner, pg_connector_engine, FakeAgency())
    request = requested(uuid.uuid4(), datetime.now(UTC) + timedelta(days=30))
    referral_id = request.correlation_id
    consume(connector, request)
    assert connector.deliver_due() == 1  # "referral.delivered": sequence 1

    # Another transaction numbers the next message of this referral and has not committed.
    concurrent = Session(pg_connector_engine)
    concurrent.begin()
    report = new_envelope(
        "delivery.delayed",
        1,
        tenant=TENANT,
        sender=KIND,
        recipient="agreements",
        correlation_id=referral_id,
        payload={"referral_id": referral_id, "since": datetime.now(UTC), "attempts": 3},
    )
    outbox.append(concurrent, report)
    concurrent.flush()

    answer = AgencyAnswer(
        message_id=uuid.uuid4(),
        type="referral.accepted",
        version=1,
        payload={"referral_id": str(referral_id), "accepted_at": datetime.now(UTC).isoformat()},
        occurred_at=datetime.now(UTC),
    )
    results: list[IntakeResult | BaseException] = []

    def take() -> None:
        try:
            results.append(connector.intake(answer))
        except BaseException as exc:  # the test reports it below
            results.append(exc)

    taker = threading.Thread(target=take)
    taker.start()
    time.sleep(0.5)  # the answer's insert now waits for the concurrent row's fate
    assert not results, results
    concurrent.commit()
    concurrent.close()
    taker.join(30)

    assert results == [IntakeResult.accepted()], results
    with Session(pg_connector_engine) as session:
        rows = session.execute(
            select(OutboxMessage.sequence, OutboxMessage.type)
            .where(OutboxMessage.correlation_id == referral_id)
            .order_by(OutboxMessage.sequence)
        ).all()
    assert [tuple(r) for r in rows] == [
        (1, "referral.delivered"),
        (2, "delivery.delayed"),
        (3, "referral.accepted"),
    ]
    assert connector.intake(answer) == IntakeResult.duplicate()  # and once only
