"""Connector failure cases on PostgreSQL and RabbitMQ: an unreachable agency, answers for
unknown referrals, duplicate answers, and a consent revoked before delivery."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messaging.store import DeadLetter
from services.connectors.agency.webhook_client import post_answer, sign_answer
from services.connectors.partner_keys import load_partner_private_key
from services.connectors.runtime import connector_engine
from tests.fixtures.live import (
    LiveApi,
    LivePlatform,
    counsellor_api,
    fast_rules,
    live_on_postgres_and_rabbitmq,
    refer,
)


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, run_id: str
) -> Iterator[LivePlatform]:
    yield from live_on_postgres_and_rabbitmq(
        tmp_path_factory,
        postgres_url,
        run_id,
        "fail",
        rules=fast_rules(),
        delay_threshold=timedelta(seconds=1),
    )


@pytest.fixture(scope="module")
def api(live: LivePlatform) -> LiveApi:
    return counsellor_api(live)


def _answer(
    live: LivePlatform,
    referral_id: str,
    answer_type: str,
    payload: dict[str, Any],
    answer_id: str | None = None,
) -> Any:
    key = load_partner_private_key(live.settings, "freiburg", "jobcenter")
    body = {
        "id": answer_id or str(uuid.uuid4()),
        "type": answer_type,
        "version": 1,
        "correlation_id": referral_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": {"referral_id": referral_id, **payload},
    }
    url = f"{live.base_url}/t/freiburg/agency/jobcenter/callback"
    return post_answer(url, sign_answer(key, body), timeout=10)


def test_unreachable_agency_shows_delay_and_gets_the_referral_later(
    live: LivePlatform, api: LiveApi
) -> None:
    agency = live.services["freiburg"].agencies["jobcenter"]
    agency.rules.failure_rate = 1.0  # the job centre's endpoint answers 503
    try:
        referral = refer(api, "jobcenter", "work")
        delayed = api.wait_for(
            f"referrals/{referral['id']}",
            lambda r: any(h["reason_code"] == "delivery_delayed" for h in r["history"]),
        )
        assert delayed["status"] == "requested"
        assert "Zustellung verzögert" in delayed["history"][-1]["note"]
    finally:
        agency.rules.failure_rate = 0.0
    done = api.wait_for(
        f"referrals/{referral['id']}", lambda r: r["status"] == "completed", timeout=60
    )
    # "sent" may be overtaken by the agency's answers (see tests.fixtures.up.closed_the_loop)
    statuses = [h["status"] for h in done["history"] if h["status"] != "sent"]
    assert statuses[-5:] == ["received", "accepted", "scheduled", "started", "completed"]


def test_answer_for_an_unknown_referral_is_returned_and_dead_lettered(
    live: LivePlatform,
) -> None:
    stray = str(uuid.uuid4())
    response = _answer(
        live, stray, "referral.accepted", {"accepted_at": datetime.now(UTC).isoformat()}
    )
    assert response.status_code == 422
    assert response.json()["reason_code"] == "unknown_referral"
    assert response.json()["rejected_message_id"]
    engine = connector_engine(live.settings, live.registry.require("freiburg"), "jobcenter")
    with Session(engine) as session:
        reasons = session.scalars(
            select(DeadLetter.reason_code).where(DeadLetter.type == "referral.accepted")
        ).all()
    engine.dispose()
    assert "unknown_referral" in reasons


def test_a_duplicate_answer_has_one_effect(live: LivePlatform, api: LiveApi) -> None:
    agency = live.services["freiburg"].agencies["jobcenter"]
    agency.rules.failure_rate = 1.0  # keep the simulator out of this referral's history
    try:
        referral = refer(api, "jobcenter", "work")
        api.wait_for(
            f"referrals/{referral['id']}",
            lambda r: any(h["reason_code"] == "delivery_delayed" for h in r["history"]),
        )
    finally:
        pass
    answer_id = str(uuid.uuid4())
    payload = {"received_at": datetime.now(UTC).isoformat()}
    first = _answer(live, referral["id"], "referral.received", payload, answer_id)
    # The connector did not deliver it yet: an answer for it is still its own referral.
    assert first.status_code == 202, first.text
    second = _answer(live, referral["id"], "referral.received", payload, answer_id)
    assert second.status_code == 200 and second.json()["status"] == "duplicate"
    shown = api.wait_for(f"referrals/{referral['id']}", lambda r: r["status"] == "received")
    assert [h["message_id"] for h in shown["history"]].count(answer_id) == 1
    agency.rules.failure_rate = 0.0


def test_consent_revoked_before_delivery_means_never_sent(live: LivePlatform, api: LiveApi) -> None:
    agency = live.services["freiburg"].agencies["jobcenter"]
    agency.rules.failure_rate = 1.0
    try:
        referral = refer(api, "jobcenter", "work")
        revoked = api.call("POST", f"consents/{referral['consent_id']}/revoke", {}, expect=200)
        assert revoked["revoked_at"]
        shown = api.call("GET", f"referrals/{referral['id']}", expect=200)
        assert shown["status"] == "revoked"
        # Not silently dropped: the connector reports that the agency never got it.
        shown = api.wait_for(
            f"referrals/{referral['id']}",
            lambda r: r["history"][-1]["reason_code"] == "not_sent_consent_revoked",
        )
        assert shown["status"] == "revoked"
        assert shown["history"][-1]["note"].startswith("consent revoked at ")
    finally:
        agency.rules.failure_rate = 0.0
    time.sleep(3)  # the connector keeps retrying its other deliveries meanwhile
    received = {e["payload"]["referral_id"] for e in agency.received}
    assert referral["id"] not in received
    engine = connector_engine(live.settings, live.registry.require("freiburg"), "jobcenter")
    with Session(engine) as session:
        from services.connectors.store import AgencyDelivery

        statuses = session.scalars(
            select(AgencyDelivery.status).where(
                AgencyDelivery.referral_id == uuid.UUID(referral["id"])
            )
        ).all()
        total = session.scalar(select(func.count()).select_from(AgencyDelivery))
    engine.dispose()
    assert statuses == ["cancelled"] and total
