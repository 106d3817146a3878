"""The counsellor's whole path through the API, on PostgreSQL and on SQLite:
client → consent → assessment → agreement → both signatures → review → amendment → close."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from services.agreements.models import AuditEvent
from services.agreements.operations.audit import verify_chain
from tests.fixtures.factories import (
    agreement_body,
    assessment_body,
    client_body,
    consent_body,
    day,
)
from tests.fixtures.platform import Platform


def test_full_agreement_flow(platform: Platform) -> None:
    api = platform.api("freiburg")
    client = api.ok("POST", "clients", client_body(family_name="Flow"), status=201)
    assert client["office_id"]
    consent = api.ok("POST", f"clients/{client['id']}/consents", consent_body(), status=201)
    assert consent["revoked_at"] is None
    assessment = api.ok(
        "POST", f"clients/{client['id']}/assessments", assessment_body(), status=201
    )
    assert assessment["fields"]["language"]["level"] == "A1"

    draft = api.ok("POST", f"clients/{client['id']}/agreements", agreement_body(2, 2), status=201)
    assert draft["status"] == "draft" and draft["version"] == 1
    assert [len(g["steps"]) for g in draft["goals"]] == [2, 2]

    signed = api.ok("POST", f"agreements/{draft['id']}/sign", {"party": "client"})
    assert signed["status"] == "signed" and signed["client_signed_on"]
    active = api.ok("POST", f"agreements/{draft['id']}/sign", {"party": "counsellor"})
    assert active["status"] == "active" and active["activated_at"]

    steps = [s for g in active["goals"] for s in g["steps"]]
    review = api.ok(
        "POST",
        f"agreements/{draft['id']}/reviews",
        {
            "steps": [
                {"step_id": steps[0]["id"], "result": "done", "note": "angemeldet"},
                {"step_id": steps[1]["id"], "result": "not_done", "note": "Wartezeit"},
            ],
            "obstacles": "Kein Kitaplatz frei",
        },
        status=201,
    )
    assert {r["result"] for r in review["steps"]} == {"done", "not_done"}
    after_review = api.ok("GET", f"agreements/{draft['id']}")
    statuses = [s["status"] for g in after_review["goals"] for s in g["steps"]]
    assert statuses[:2] == ["done", "not_done"]
    assert after_review["reviews"][0]["obstacles"] == "Kein Kitaplatz frei"

    amendment = api.ok(
        "POST",
        f"agreements/{draft['id']}/amendments",
        {"reason": "Kitaplatz gefunden"},
        status=201,
    )
    assert amendment["version"] == 2 and amendment["previous_id"] == draft["id"]
    assert amendment["status"] == "draft"
    copied = [s for g in amendment["goals"] for s in g["steps"]]
    assert [s["origin_step_id"] for s in copied] == [s["id"] for s in steps]
    assert copied[0]["status"] == "done"

    body = agreement_body(1, 1)
    body["goals"][0]["target"] = "Deutsch B1, jetzt mit Kita"
    edited = api.ok("PUT", f"agreements/{amendment['id']}", body)
    assert edited["goals"][0]["target"] == "Deutsch B1, jetzt mit Kita"
    api.ok("POST", f"agreements/{amendment['id']}/sign", {"party": "counsellor"})
    api.ok("POST", f"agreements/{amendment['id']}/sign", {"party": "client", "signed_on": day(0)})

    versions = api.ok("GET", f"clients/{client['id']}/agreements")
    assert [(v["version"], v["status"]) for v in versions] == [(1, "superseded"), (2, "active")]

    goal_id = edited["goals"][0]["id"]
    closed = api.ok(
        "POST",
        f"agreements/{amendment['id']}/close",
        {
            "outcome": "goals_reached",
            "balance": "Kurs bestanden, Kita gefunden",
            "goals": [{"goal_id": goal_id, "attainment": "reached"}],
        },
    )
    assert closed["status"] == "closed" and closed["outcome"] == "goals_reached"
    assert closed["goals"][0]["attainment"] == "reached"

    # A new agreement may start once the previous one is closed.
    again = api.ok("POST", f"clients/{client['id']}/agreements", agreement_body(1, 1), status=201)
    assert again["version"] == 3

    with platform.session("freiburg") as session:
        assert verify_chain(session) == (True, None)
        actions = {
            (e.action, e.object_type)
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.client_id == uuid.UUID(client["id"]))
            )
        }
    assert {
        ("create", "client"),
        ("create", "consent"),
        ("sign", "agreement"),
        ("review", "agreement"),
        ("amend", "agreement"),
        ("close", "agreement"),
        ("read", "agreement"),
    } <= actions


def test_client_list_paginates_and_searches(platform: Platform) -> None:
    api = platform.api("freiburg")
    marker = "Zzsearch" + api.token[:6].replace("-", "x").replace("_", "x")
    for i in range(7):
        api.ok("POST", "clients", client_body(family_name=f"{marker}{i}"), status=201)
    page1 = api.ok("GET", f"clients?q={marker.lower()}&page_size=5")
    page2 = api.ok("GET", f"clients?q={marker}&page_size=5&page=2")
    assert page1["total"] == page2["total"] == 7
    assert len(page1["items"]) == 5 and len(page2["items"]) == 2
    names = [c["family_name"] for c in page1["items"] + page2["items"]]
    assert names == sorted(names) and len(set(names)) == 7
    assert api.ok("GET", "clients?q=nobody-is-called-this")["total"] == 0


def test_offices_and_partners_come_from_the_registry(platform: Platform) -> None:
    api = platform.api("freiburg")
    offices = api.ok("GET", "offices")
    assert {o["key"] for o in offices} == {o.key for o in platform.tenant("freiburg").offices}
    partners = api.ok("GET", "partners")
    assert {p["kind"] for p in partners} == {"auslaenderbehoerde", "jobcenter", "arbeitsagentur"}


def test_referral_is_recorded_as_requested_with_history(platform: Platform) -> None:
    api = platform.api("freiburg")
    client = api.ok("POST", "clients", client_body(), status=201)
    consent = api.ok("POST", f"clients/{client['id']}/consents", consent_body(), status=201)
    agreement = api.ok("POST", f"clients/{client['id']}/agreements", agreement_body(), status=201)
    api.ok("POST", f"agreements/{agreement['id']}/sign", {"party": "client"})
    active = api.ok("POST", f"agreements/{agreement['id']}/sign", {"party": "counsellor"})
    step = active["goals"][1]["steps"][0]
    referral = api.ok(
        "POST",
        "referrals",
        {
            "client_id": client["id"],
            "recipient_kind": "jobcenter",
            "purpose": "work",
            "consent_id": consent["id"],
            "step_id": step["id"],
        },
        status=201,
    )
    assert referral["status"] == "requested"
    assert [h["status"] for h in referral["history"]] == ["requested"]
    fetched = api.ok("GET", f"referrals/{referral['id']}")
    assert fetched["id"] == referral["id"]
    listed = api.ok("GET", f"referrals?client_id={client['id']}")
    assert [r["id"] for r in listed["items"]] == [referral["id"]]
    withdrawn = api.ok("POST", f"referrals/{referral['id']}/withdraw", {"reason": "erledigt"})
    assert withdrawn["status"] == "withdrawn"
    assert [h["status"] for h in withdrawn["history"]] == ["requested", "withdrawn"]


def test_revoking_consent_revokes_open_referrals(platform: Platform) -> None:
    api = platform.api("freiburg")
    client = api.ok("POST", "clients", client_body(), status=201)
    consent = api.ok("POST", f"clients/{client['id']}/consents", consent_body(), status=201)
    referral = api.ok(
        "POST",
        "referrals",
        {
            "client_id": client["id"],
            "recipient_kind": "jobcenter",
            "purpose": "language",
            "consent_id": consent["id"],
        },
        status=201,
    )
    api.ok("POST", f"consents/{consent['id']}/revoke", {})
    after = api.ok("GET", f"referrals/{referral['id']}")
    assert after["status"] == "revoked"
    assert after["history"][-1]["reason_code"] == "consent_revoked"
    refused = api.post(
        "referrals",
        {
            "client_id": client["id"],
            "recipient_kind": "jobcenter",
            "purpose": "language",
            "consent_id": consent["id"],
        },
    )
    assert refused.status_code == 409 and refused.json["code"] == "consent_revoked"
