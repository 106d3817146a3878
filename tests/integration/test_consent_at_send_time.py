"""Consent at send time, end to end on PostgreSQL and RabbitMQ: a referral whose consent ends
while the agency is unreachable never reaches the agency, and its history in the agreement
service says why. The connector's clock is moved by the test (a clock of its own: the
platform runs in this module alone)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.connectors.runtime import connector_engine
from services.connectors.store import AgencyDelivery
from tests.fixtures.live import (
    LiveApi,
    LivePlatform,
    counsellor_api,
    fast_rules,
    live_on_postgres_and_rabbitmq,
    refer,
)

KIND = "jobcenter"  # webhook channel in Freiburg's registry file


class ShiftedClock:
    """Real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@pytest.fixture(scope="module")
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, run_id: str, clock: ShiftedClock
) -> Iterator[LivePlatform]:
    for platform in live_on_postgres_and_rabbitmq(
        tmp_path_factory,
        postgres_url,
        run_id,
        "consent",
        rules=fast_rules(),
        delay_threshold=timedelta(seconds=1),
    ):
        platform.services["freiburg"].connectors[KIND].connector.clock = clock
        yield platform


@pytest.fixture(scope="module")
def api(live: LivePlatform) -> LiveApi:
    return counsellor_api(live)


def _refer(api: LiveApi, expires_at: datetime) -> dict[str, Any]:
    return refer(api, KIND, "work", consent={"expires_at": expires_at.isoformat()})


def _reasons(referral: dict[str, Any]) -> list[str | None]:
    return [h["reason_code"] for h in referral["history"]]


def _deliveries(live: LivePlatform, referral_id: str) -> list[str]:
    engine = connector_engine(live.settings, live.registry.require("freiburg"), KIND)
    try:
        with Session(engine) as session:
            return list(
                session.scalars(
                    select(AgencyDelivery.status).where(
                        AgencyDelivery.referral_id == uuid.UUID(referral_id)
                    )
                )
            )
    finally:
        engine.dispose()


def test_consent_ending_while_the_agency_is_unreachable_means_never_sent(
    live: LivePlatform, api: LiveApi, clock: ShiftedClock
) -> None:
    agency = live.services["freiburg"].agencies[KIND]
    agency.rules.failure_rate = 1.0  # the job centre's endpoint answers 503
    try:
        referral = _refer(api, datetime.now(UTC) + timedelta(minutes=10))
        api.wait_for(f"referrals/{referral['id']}", lambda r: "delivery_delayed" in _reasons(r))
        clock.advance(timedelta(minutes=11))  # days pass, by the connector's clock
    finally:
        agency.rules.failure_rate = 0.0  # the agency is back
    shown = api.wait_for(
        f"referrals/{referral['id']}", lambda r: "not_sent_consent_expired" in _reasons(r)
    )
    assert shown["status"] == "requested"
    last = shown["history"][-1]
    assert last["reason_code"] == "not_sent_consent_expired"
    assert last["note"].startswith("consent expired at ")

    # The agency is reachable again and takes other referrals; this one it never gets.
    later = _refer(api, datetime.now(UTC) + timedelta(days=30))
    done = api.wait_for(f"referrals/{later['id']}", lambda r: r["status"] == "completed")
    assert done["status"] == "completed"
    received = {e["payload"]["referral_id"] for e in agency.received}
    assert later["id"] in received and referral["id"] not in received
    assert _deliveries(live, referral["id"]) == ["cancelled"]

    # Withdrawing it in the office tells the agency nothing: it never had it.
    api.call("POST", f"referrals/{referral['id']}/withdraw", {}, expect=200)
    time.sleep(2)
    assert referral["id"] not in agency.withdrawn
    assert _deliveries(live, referral["id"]) == ["cancelled"]


def test_a_valid_consent_still_delivers_in_the_agencys_contract(
    live: LivePlatform, api: LiveApi
) -> None:
    agency = live.services["freiburg"].agencies[KIND]
    referral = _refer(api, datetime.now(UTC) + timedelta(days=30))
    done = api.wait_for(f"referrals/{referral['id']}", lambda r: r["status"] == "completed")
    statuses = [h["status"] for h in done["history"]]
    # ("sent" may be overtaken by the agency's first answer; see incoming.handle_status.)
    assert statuses[-5:] == ["received", "accepted", "scheduled", "started", "completed"]
    [seen] = [e for e in agency.received if e["payload"]["referral_id"] == referral["id"]]
    assert seen["version"] == 1 and "consent_expires_at" not in seen["payload"]
