"""Case data that survives its lifecycle (issue 12), on PostgreSQL and SQLite:

- an amendment (Fortschreibung) carries each continued step's status, the review results of
  earlier versions and the open referrals into the new version;
- a completed referral marks its step done;
- a step is not referred to the same agency twice while a referral of it is open;
- a closed case leaves the "waiting for an answer" lists: its open referrals are withdrawn,
  at the agencies too.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from werkzeug.test import Client

from messaging.contracts import dump_payload
from messaging.envelope import Envelope
from messaging.store import OutboxMessage
from services.agreements.incoming import handle_status
from services.agreements.models import AuditEvent
from services.agreements.models.vocabulary import Role
from services.agreements.portal import queries
from services.agreements.principal import Principal
from tests.fixtures.cases import new_client, sign_both
from tests.fixtures.factories import agreement_body, consent_body
from tests.fixtures.platform import Api, Platform
from tests.portal.conftest import login, make_user

TENANT = "freiburg"


def active_case(api: Api) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A client with a jobcenter consent and an active agreement of two goals, one step each."""
    client = new_client(api)
    consent = api.ok("POST", f"clients/{client['id']}/consents", consent_body(), 201)
    draft = api.ok("POST", f"clients/{client['id']}/agreements", agreement_body(2, 1), 201)
    return client, consent, sign_both(api, draft["id"])


def refer(api: Api, client: dict[str, Any], consent: dict[str, Any], step_id: str) -> Any:
    body = {
        "client_id": client["id"],
        "recipient_kind": "jobcenter",
        "purpose": "work",
        "consent_id": consent["id"],
        "step_id": step_id,
    }
    return api.post("referrals", body)


def agency_says(
    platform: Platform, referral: dict[str, Any], message_type: str, **fields: Any
) -> None:
    envelope = Envelope(
        type=message_type,
        version=1,
        tenant=TENANT,
        sender="jobcenter",
        recipient="agreements",
        correlation_id=uuid.UUID(referral["id"]),
        consent_id=uuid.UUID(referral["consent_id"]),
        payload=dump_payload(message_type, 1, {"referral_id": uuid.UUID(referral["id"]), **fields}),
    )
    with platform.session(TENANT) as session, session.begin():
        handle_status(session, envelope)


def steps_of(agreement: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for goal in agreement["goals"] for step in goal["steps"]]


def test_an_amendment_carries_status_reviews_and_open_referrals(platform: Platform) -> None:
    api = platform.api(TENANT)
    client, consent, active = active_case(api)
    first, second = steps_of(active)
    referral = refer(api, client, consent, first["id"]).json
    api.ok("POST", f"agreements/{active['id']}/reviews", {
        "steps": [{"step_id": second["id"], "result": "done", "note": "erledigt"}],
        "obstacles": "Wartezeit Kita",
    }, 201)  # fmt: skip

    amendment = api.ok("POST", f"agreements/{active['id']}/amendments", {"reason": "neu"}, 201)
    copied = steps_of(amendment)
    assert [s["status"] for s in copied] == ["open", "done"]
    assert [s["origin_step_id"] for s in copied] == [first["id"], second["id"]]

    # The counsellor edits the draft: the first step reworded, a new step added; the second
    # step's row is edited too but keeps its origin, so its status stays.
    goals = [
        {**{k: g[k] for k in ("field", "target", "due_date")}, "steps": [
            {"description": s["description"] + " (neu formuliert)", "owner_side": s["owner_side"],
             "due_date": s["due_date"], "origin_step_id": s["origin_step_id"]}
            for s in g["steps"]
        ]}
        for g in amendment["goals"]
    ]  # fmt: skip
    goals[0]["steps"].append(
        {"description": "Neuer Schritt", "owner_side": "client", "due_date": goals[0]["due_date"]}
    )
    edited = api.ok("PUT", f"agreements/{amendment['id']}", {"goals": goals})
    assert [s["status"] for s in steps_of(edited)] == ["open", "open", "done"]

    activated = sign_both(api, amendment["id"])
    assert activated["status"] == "active"
    continued_first = steps_of(activated)[0]
    moved = api.ok("GET", f"referrals/{referral['id']}")
    assert moved["step_id"] == continued_first["id"]  # the open referral follows its step
    assert moved["status"] == "requested"

    superseded = api.ok("GET", f"agreements/{active['id']}")
    assert superseded["status"] == "superseded"
    assert len(superseded["reviews"]) == 1  # the earlier version keeps its review


def test_a_step_can_only_continue_a_step_of_the_previous_version(platform: Platform) -> None:
    api = platform.api(TENANT)
    _, _, active = active_case(api)
    _, _, other = active_case(api)
    amendment = api.ok("POST", f"agreements/{active['id']}/amendments", {"reason": "neu"}, 201)
    goals = [
        {**{k: g[k] for k in ("field", "target", "due_date")}, "steps": [
            {"description": s["description"], "owner_side": s["owner_side"],
             "due_date": s["due_date"], "origin_step_id": steps_of(other)[0]["id"]}
            for s in g["steps"]
        ]}
        for g in amendment["goals"]
    ]  # fmt: skip
    refused = api.put(f"agreements/{amendment['id']}", goals and {"goals": goals})
    assert refused.status_code == 422
    assert refused.json["code"] == "origin_step_not_in_previous_version"
    fresh = new_client(api)
    body = agreement_body(1, 1)
    body["goals"][0]["steps"][0]["origin_step_id"] = steps_of(active)[0]["id"]
    first_version = api.post(f"clients/{fresh['id']}/agreements", body)
    assert first_version.status_code == 422


def test_the_portal_shows_earlier_reviews_and_offers_no_second_referral(
    sqlite_platform: Platform,
) -> None:
    platform = sqlite_platform
    api = platform.api(TENANT)
    client, consent, active = active_case(api)
    first, second = steps_of(active)
    refer(api, client, consent, first["id"])
    api.ok("POST", f"agreements/{active['id']}/reviews", {
        "steps": [{"step_id": second["id"], "result": "partly", "note": "halb"}],
        "obstacles": "Kinderbetreuung fehlt",
    }, 201)  # fmt: skip
    amendment = api.ok("POST", f"agreements/{active['id']}/amendments", {"reason": "neu"}, 201)
    activated = sign_both(api, amendment["id"])
    http = Client(platform.dispatcher)
    assert login(http, make_user(platform, TENANT)).status_code == 302
    page = http.get(f"/t/{TENANT}/agreements/{activated['id']}").get_data(as_text=True)
    assert "Kinderbetreuung fehlt" in page and "Fassung 1" in page
    refer_first = f"/agreements/{activated['id']}/steps/{steps_of(activated)[0]['id']}/referral"
    refer_second = f"/agreements/{activated['id']}/steps/{steps_of(activated)[1]['id']}/referral"
    assert refer_first not in page  # its referral is still open
    assert refer_second in page


def test_a_second_referral_of_a_step_to_the_same_agency_waits_for_the_first(
    platform: Platform,
) -> None:
    api = platform.api(TENANT)
    client, consent, active = active_case(api)
    step = steps_of(active)[0]
    first = refer(api, client, consent, step["id"])
    assert first.status_code == 201
    second = refer(api, client, consent, step["id"])
    assert second.status_code == 409
    assert second.json["code"] == "referral_already_open"
    api.ok("POST", f"referrals/{first.json['id']}/withdraw", {"reason": "falsch"})
    assert refer(api, client, consent, step["id"]).status_code == 201


def test_a_completed_referral_marks_its_step_done(platform: Platform) -> None:
    api = platform.api(TENANT)
    client, consent, active = active_case(api)
    step = steps_of(active)[0]
    referral = refer(api, client, consent, step["id"]).json
    now = datetime.now(UTC)
    for message_type, at_field in (
        ("referral.received", "received_at"),
        ("referral.accepted", "accepted_at"),
        ("measure.completed", "completed_at"),
    ):
        agency_says(platform, referral, message_type, **{at_field: now})
    after = api.ok("GET", f"agreements/{active['id']}")
    assert steps_of(after)[0]["status"] == "done"
    assert steps_of(after)[1]["status"] == "open"
    with platform.session(TENANT) as session:
        actors = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "step.done_by_referral",
                                           AuditEvent.object_id == step["id"])
        ).all()  # fmt: skip
    assert actors == ["agency:jobcenter"]


def test_a_closed_case_withdraws_its_open_referrals_and_stops_waiting(
    platform: Platform,
) -> None:
    api = platform.api(TENANT)
    client, consent, active = active_case(api)
    referral = refer(api, client, consent, steps_of(active)[0]["id"]).json
    agency_says(platform, referral, "referral.received", received_at=datetime.now(UTC))
    api.ok("POST", f"agreements/{active['id']}/close", {
        "outcome": "moved_away", "balance": "verzogen",
    })  # fmt: skip
    closed = api.ok("GET", f"referrals/{referral['id']}")
    assert closed["status"] == "withdrawn"
    assert closed["history"][-1]["reason_code"] == "case_closed"
    with platform.session(TENANT) as session:
        told = session.scalars(
            select(OutboxMessage.envelope).where(
                OutboxMessage.correlation_id == uuid.UUID(referral["id"]),
                OutboxMessage.type == "referral.withdrawn",
            )
        ).all()
        office_id = uuid.UUID(client["office_id"])
        counsellor = Principal("test", Role.COUNSELLOR, TENANT, office_id)
        waiting = [row.referral.id for row in queries.referrals_waiting(session, counsellor)]
    assert len(told) == 1 and told[0]["payload"]["reason_code"] == "by_office"
    assert uuid.UUID(referral["id"]) not in waiting
