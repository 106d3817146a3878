"""Input built to break things answers 4xx with a clear message and changes nothing, on
PostgreSQL and SQLite: absurdly deep JSON, lone surrogates, NUL and other control characters
in text (a NUL once made every XML delivery of a client fail for good), timestamps that do
not even convert to UTC, control characters in query parameters, hand-edited portal forms.
Each of these answered 500 before."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from werkzeug.test import Client

from messaging.contracts import ContractError, load_payload, new_envelope
from messaging.envelope import Envelope
from tests.fixtures.cases import new_client, row_counts
from tests.fixtures.factories import client_body, consent_body
from tests.fixtures.platform import Api, Platform
from tests.portal.conftest import csrf_of, login, make_user

TENANT = "freiburg"


def _unchanged(platform: Platform, before: dict[str, int]) -> None:
    assert row_counts(platform, TENANT) == before, "a refused request wrote something"


def _raw(api: Api, method: str, path: str, body: str) -> Any:
    return api.request(method, path, data=body, headers={"Content-Type": "application/json"})


@pytest.fixture
def api(platform: Platform) -> Api:
    return platform.api(TENANT)


def test_json_nested_too_deep_is_malformed(platform: Platform, api: Api) -> None:
    before = row_counts(platform, TENANT)
    for depth in (33, 100_000):
        response = _raw(api, "POST", "clients", "[" * depth + "]" * depth)
        assert response.status_code == 400
        assert response.json["code"] == "malformed_json"
    _unchanged(platform, before)


@pytest.mark.parametrize(
    "name",
    ["\ud800", "A\ud83dB", "A\x00B", "A\x07B", "A\x1bB", "A\x7fB", "A\u0085B", "A\uffffB"],
    ids=["lone-surrogate", "half-pair", "nul", "bell", "escape", "del", "c1", "nonchar"],
)
def test_text_no_store_can_carry_is_refused_by_field(
    platform: Platform, api: Api, name: str
) -> None:
    client = new_client(api)
    before = row_counts(platform, TENANT)
    body = json.dumps(client_body(given_name=name, office_id=client["office_id"]))
    created = _raw(api, "POST", "clients", body)
    assert created.status_code == 422 and created.json["code"] == "invalid_text"
    assert list(created.json["fields"]) == ["given_name"]
    changed = _raw(api, "PATCH", f"clients/{client['id']}", json.dumps({"family_name": name}))
    assert changed.status_code == 422 and list(changed.json["fields"]) == ["family_name"]
    nested = _raw(
        api,
        "POST",
        f"clients/{client['id']}/agreements",
        json.dumps({"goals": [{"field": "work", "target": "x", "due_date": "2030-01-01",
                               "steps": [{"description": name, "owner_side": "client",
                                          "due_date": "2030-01-01"}]}]}),
    )  # fmt: skip
    assert nested.status_code == 422
    assert list(nested.json["fields"]) == ["goals.0.steps.0.description"]
    _unchanged(platform, before)


def test_line_breaks_and_tabs_stay_allowed_in_text(api: Api) -> None:
    client = new_client(api)
    changed = api.patch(f"clients/{client['id']}", {"family_name": "Al-Khatib\tzweite\r\nZeile"})
    assert changed.status_code == 200


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("signed_at", "0001-01-01T00:00:00+14:00"),
        ("expires_at", "9999-12-31T23:59:59-14:00"),
        ("expires_at", "9999-12-31T23:59:59+00:00"),
        ("signed_at", "1850-01-01T00:00:00+00:00"),
    ],
)
def test_timestamps_outside_a_sane_range_are_refused(
    platform: Platform, api: Api, field: str, value: str
) -> None:
    client = new_client(api)
    before = row_counts(platform, TENANT)
    response = api.post(f"clients/{client['id']}/consents", consent_body(**{field: value}))
    assert response.status_code == 422
    assert field in response.json["fields"]
    _unchanged(platform, before)


@pytest.mark.parametrize("query", ["q=a%00b", "q=a%0d%0aSet-Cookie:x", "q=a%09b", "q%00=1"])
def test_control_characters_in_query_parameters_are_refused(api: Api, query: str) -> None:
    response = api.get(f"clients?{query}")
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.json["code"] == "invalid_text"


def test_invalid_utf8_in_a_query_is_read_as_replacement_characters(api: Api) -> None:
    assert api.get("clients?q=%ed%a0%80%ff").status_code == 200


def test_hand_edited_portal_forms_never_fail(sqlite_platform: Platform) -> None:
    http = Client(sqlite_platform.dispatcher)
    assert login(http, make_user(sqlite_platform, TENANT)).status_code == 302
    client = new_client(sqlite_platform.api(TENANT))
    editor = http.get(f"/t/{TENANT}/clients/{client['id']}/agreements/new?goals=abc&steps=-1")
    assert editor.status_code == 200
    posted = http.post(
        f"/t/{TENANT}/clients/{client['id']}/agreements/new",
        data={"csrf_token": csrf_of(editor), "goal_slots": "many", "step_slots": "1e9"},
    )
    assert posted.status_code in (200, 422)
    page = http.get(f"/t/{TENANT}/clients?page=abc")
    assert page.status_code == 200
    before = row_counts(sqlite_platform, TENANT)
    refused = http.post(
        f"/t/{TENANT}/clients/new",
        data={"csrf_token": csrf_of(page), "given_name": "A\x00B", "family_name": "X"},
    )
    assert refused.status_code == 400
    assert "Steuerzeichen" in refused.get_data(as_text=True)
    _unchanged(sqlite_platform, before)


def test_a_message_with_a_nul_in_its_text_breaks_its_contract() -> None:
    """Agencies' answers pass the same rule: a note with a NUL is schema_invalid at intake,
    never a row that every later delivery of the client trips over."""
    referral = uuid.uuid4()
    good = new_envelope(
        "referral.accepted",
        1,
        tenant=TENANT,
        sender="jobcenter",
        recipient="agreements",
        correlation_id=referral,
        payload={"referral_id": referral, "accepted_at": datetime.now(UTC)},
    )
    bad = Envelope(**{**good.__dict__, "payload": {**good.payload, "note": "ok\x00"}})
    with pytest.raises(ContractError) as refused:
        load_payload(bad)
    assert refused.value.code == "schema_invalid"
