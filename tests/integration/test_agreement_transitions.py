"""The agreement state machine through the API, on PostgreSQL and SQLite.

Every illegal transition answers 409 with its machine code, and the refused call changes
nothing: the resources read the same before and after, and no table gained or lost a row
(not even an audit event: a refused action did not happen).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.cases import agreement_in_state, new_client, row_counts, sign_both
from tests.fixtures.factories import agreement_body, consent_body
from tests.fixtures.platform import Api, Platform

TENANT = "freiburg"
CLOSE = {"outcome": "goals_reached", "balance": "alles erreicht"}


def assert_refused(
    platform: Platform,
    api: Api,
    method: str,
    path: str,
    body: Any,
    code: str,
    reads: list[str],
) -> None:
    """Call, expect 409 ``code``; the resources in ``reads`` and every table stay unchanged."""
    before = [api.ok("GET", read) for read in reads]
    counts = row_counts(platform, TENANT)
    response = api.request(method, path, json=body)
    assert response.status_code == 409, f"{method} {path}: {response.get_data(as_text=True)}"
    error = response.json
    assert error["code"] == code, error
    assert error["message"]["de"] and error["message"]["en"]
    assert row_counts(platform, TENANT) == counts, "the refused call wrote to the database"
    assert [api.ok("GET", read) for read in reads] == before, "the refused call changed state"


def reads_of(client: dict[str, Any], agreement: dict[str, Any]) -> list[str]:
    return [f"agreements/{agreement['id']}", f"clients/{client['id']}/agreements"]


def review_body(agreement: dict[str, Any]) -> dict[str, Any]:
    steps = [step for goal in agreement["goals"] for step in goal["steps"]]
    return {"steps": [{"step_id": steps[0]["id"], "result": "done"}], "obstacles": ""}


# -- signing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "goals",
    [
        pytest.param([], id="no-goal"),
        pytest.param(
            [{"field": "work", "target": "Arbeit finden", "due_date": "2030-01-01"}],
            id="goal-without-step",
        ),
    ],
)
@pytest.mark.parametrize("party", ["client", "counsellor"])
def test_signing_needs_a_goal_with_a_step(
    platform: Platform, goals: list[dict[str, Any]], party: str
) -> None:
    api = platform.api(TENANT)
    client = new_client(api)
    draft = api.ok("POST", f"clients/{client['id']}/agreements", {"goals": goals}, 201)
    assert draft["status"] == "draft"
    assert_refused(
        platform,
        api,
        "POST",
        f"agreements/{draft['id']}/sign",
        {"party": party},
        "agreement_incomplete",
        reads_of(client, draft),
    )


@pytest.mark.parametrize("party", ["client", "counsellor"])
def test_a_party_signs_a_version_only_once(platform: Platform, party: str) -> None:
    api = platform.api(TENANT)
    client = new_client(api)
    draft = api.ok("POST", f"clients/{client['id']}/agreements", agreement_body(1, 1), 201)
    signed = api.ok("POST", f"agreements/{draft['id']}/sign", {"party": party})
    assert signed["status"] == "signed"
    assert_refused(
        platform,
        api,
        "POST",
        f"agreements/{draft['id']}/sign",
        {"party": party},
        "already_signed",
        reads_of(client, draft),
    )


@pytest.mark.parametrize("state", ["active", "closed", "superseded"])
@pytest.mark.parametrize("party", ["client", "counsellor"])
def test_only_a_draft_or_half_signed_version_can_be_signed(
    platform: Platform, state: str, party: str
) -> None:
    api = platform.api(TENANT)
    client, agreement = agreement_in_state(api, state)
    assert_refused(
        platform,
        api,
        "POST",
        f"agreements/{agreement['id']}/sign",
        {"party": party},
        "agreement_not_signable",
        reads_of(client, agreement),
    )


# -- editing and discarding --------------------------------------------------------------------


@pytest.mark.parametrize("state", ["signed", "active", "closed", "superseded"])
def test_only_a_draft_can_be_edited(platform: Platform, state: str) -> None:
    api = platform.api(TENANT)
    client, agreement = agreement_in_state(api, state)
    assert_refused(
        platform,
        api,
        "PUT",
        f"agreements/{agreement['id']}",
        agreement_body(1, 1),
        "agreement_not_editable",
        reads_of(client, agreement),
    )


@pytest.mark.parametrize("state", ["signed", "active", "closed", "superseded"])
def test_only_an_unsigned_draft_can_be_discarded(platform: Platform, state: str) -> None:
    api = platform.api(TENANT)
    client, agreement = agreement_in_state(api, state)
    assert_refused(
        platform,
        api,
        "DELETE",
        f"agreements/{agreement['id']}",
        None,
        "agreement_not_discardable",
        reads_of(client, agreement),
    )


def test_an_unsigned_draft_can_be_discarded(platform: Platform) -> None:
    """The positive control of the test above: DELETE does work on a draft."""
    api = platform.api(TENANT)
    client, draft = agreement_in_state(api, "draft")
    assert api.delete(f"agreements/{draft['id']}").status_code == 204
    assert api.get(f"agreements/{draft['id']}").status_code == 404
    assert api.ok("GET", f"clients/{client['id']}/agreements") == []


# -- review, amendment, close: only on an active agreement ----------------------------------------


@pytest.mark.parametrize("state", ["draft", "signed", "closed", "superseded"])
@pytest.mark.parametrize("action", ["reviews", "amendments", "close"])
def test_review_amend_close_need_an_active_agreement(
    platform: Platform, state: str, action: str
) -> None:
    api = platform.api(TENANT)
    client, agreement = agreement_in_state(api, state)
    body = {
        "reviews": review_body(agreement),
        "amendments": {"reason": "Änderung"},
        "close": CLOSE,
    }[action]
    assert_refused(
        platform,
        api,
        "POST",
        f"agreements/{agreement['id']}/{action}",
        body,
        "agreement_not_active",
        reads_of(client, agreement),
    )


@pytest.mark.parametrize("pending", ["draft", "signed"])
def test_one_pending_amendment_at_a_time(platform: Platform, pending: str) -> None:
    api = platform.api(TENANT)
    client, active = agreement_in_state(api, "active")
    amendment = api.ok("POST", f"agreements/{active['id']}/amendments", {"reason": "eins"}, 201)
    if pending == "signed":
        api.ok("POST", f"agreements/{amendment['id']}/sign", {"party": "client"})
    assert_refused(
        platform,
        api,
        "POST",
        f"agreements/{active['id']}/amendments",
        {"reason": "zwei"},
        "amendment_pending",
        [*reads_of(client, active), f"agreements/{amendment['id']}"],
    )


@pytest.mark.parametrize("pending", ["draft", "signed"])
def test_no_close_while_an_amendment_is_pending(platform: Platform, pending: str) -> None:
    api = platform.api(TENANT)
    client, active = agreement_in_state(api, "active")
    amendment = api.ok("POST", f"agreements/{active['id']}/amendments", {"reason": "eins"}, 201)
    if pending == "signed":
        api.ok("POST", f"agreements/{amendment['id']}/sign", {"party": "counsellor"})
    assert_refused(
        platform,
        api,
        "POST",
        f"agreements/{active['id']}/close",
        CLOSE,
        "amendment_pending",
        [*reads_of(client, active), f"agreements/{amendment['id']}"],
    )


def test_closing_works_once_the_pending_amendment_is_discarded(platform: Platform) -> None:
    """The positive control of the test above."""
    api = platform.api(TENANT)
    _, active = agreement_in_state(api, "active")
    amendment = api.ok("POST", f"agreements/{active['id']}/amendments", {"reason": "eins"}, 201)
    assert api.delete(f"agreements/{amendment['id']}").status_code == 204
    assert api.ok("POST", f"agreements/{active['id']}/close", CLOSE)["status"] == "closed"


@pytest.mark.parametrize("state", ["draft", "signed", "active"])
def test_one_open_agreement_per_client(platform: Platform, state: str) -> None:
    api = platform.api(TENANT)
    client, agreement = agreement_in_state(api, state)
    assert_refused(
        platform,
        api,
        "POST",
        f"clients/{client['id']}/agreements",
        agreement_body(1, 1),
        "agreement_already_open",
        reads_of(client, agreement),
    )


def test_an_open_amendment_also_blocks_a_new_agreement(platform: Platform) -> None:
    api = platform.api(TENANT)
    client, active = agreement_in_state(api, "active")
    amendment = api.ok("POST", f"agreements/{active['id']}/amendments", {"reason": "eins"}, 201)
    assert_refused(
        platform,
        api,
        "POST",
        f"clients/{client['id']}/agreements",
        agreement_body(1, 1),
        "agreement_already_open",
        [*reads_of(client, active), f"agreements/{amendment['id']}"],
    )


# -- referrals and consents ----------------------------------------------------------------------


def _referral(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    client = new_client(api)
    consent = api.ok("POST", f"clients/{client['id']}/consents", consent_body(), 201)
    draft = api.ok("POST", f"clients/{client['id']}/agreements", agreement_body(1, 1), 201)
    active = sign_both(api, draft["id"])
    referral = api.ok(
        "POST",
        "referrals",
        {
            "client_id": client["id"],
            "recipient_kind": "jobcenter",
            "purpose": "language",
            "consent_id": consent["id"],
            "step_id": active["goals"][0]["steps"][0]["id"],
        },
        201,
    )
    return consent, referral


def test_a_referral_is_withdrawn_only_once(platform: Platform) -> None:
    api = platform.api(TENANT)
    _, referral = _referral(api)
    api.ok("POST", f"referrals/{referral['id']}/withdraw", {"reason": "erledigt"})
    assert_refused(
        platform,
        api,
        "POST",
        f"referrals/{referral['id']}/withdraw",
        {"reason": "noch einmal"},
        "referral_transition_not_allowed",
        [f"referrals/{referral['id']}"],
    )


def test_a_revoked_referral_cannot_be_withdrawn(platform: Platform) -> None:
    api = platform.api(TENANT)
    consent, referral = _referral(api)
    api.ok("POST", f"consents/{consent['id']}/revoke", {})
    assert api.ok("GET", f"referrals/{referral['id']}")["status"] == "revoked"
    assert_refused(
        platform,
        api,
        "POST",
        f"referrals/{referral['id']}/withdraw",
        {},
        "referral_transition_not_allowed",
        [f"referrals/{referral['id']}"],
    )


def test_a_consent_is_revoked_only_once(platform: Platform) -> None:
    api = platform.api(TENANT)
    consent, referral = _referral(api)
    api.ok("POST", f"consents/{consent['id']}/revoke", {})
    assert_refused(
        platform,
        api,
        "POST",
        f"consents/{consent['id']}/revoke",
        {},
        "consent_already_revoked",
        [f"clients/{consent['client_id']}/consents", f"referrals/{referral['id']}"],
    )
