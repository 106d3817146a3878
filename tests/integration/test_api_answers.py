"""Answers the API fuzz run (test_api_fuzz.py) found outside the OpenAPI document, pinned
one by one: each is now either in the document or no longer given."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.fixtures.cases import new_client, row_counts
from tests.fixtures.factories import consent_body
from tests.fixtures.platform import Api, Platform

TENANT = "freiburg"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def api(sqlite_platform: Platform) -> Api:
    return sqlite_platform.api(TENANT)


@pytest.fixture(scope="module")
def spec(sqlite_platform: Platform) -> dict[str, Any]:
    response = sqlite_platform.http().get(f"/t/{TENANT}/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json  # type: ignore[no-any-return]


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def test_an_undeclared_method_answers_405_with_allow(api: Api) -> None:
    """werkzeug's Allow header was dropped when the error became JSON (RFC 9110 asks it)."""
    response = api.request("TRACE", "clients")
    assert response.status_code == 405
    assert response.json["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_the_document_names_no_catch_all_error(spec: dict[str, Any]) -> None:
    """flask-smorest's ``default`` response promised its own error body (an integer code, a
    string message) for every status not listed; the API never sends it."""
    for method, path, operation in operations(spec):
        assert "default" not in operation["responses"], (method, path)
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ApiError"}, (method, path)
    assert "Error" not in spec["components"]["schemas"]
    assert spec["components"]["schemas"]["ApiError"]["required"] == ["code", "message"]


def test_every_operation_documents_the_query_text_rule_and_the_challenge(
    api: Api, spec: dict[str, Any]
) -> None:
    """Control characters in any query parameter answer 422, on every operation, and every
    401 carries WWW-Authenticate."""
    for method, path, operation in operations(spec):
        assert "422" in operation["responses"], (method, path)
        assert "WWW-Authenticate" in operation["responses"]["401"]["headers"], (method, path)
    refused = api.get("offices?anything=a%00b")
    assert refused.status_code == 422 and refused.json["code"] == "invalid_text"
    anonymous = api.http.get(f"/t/{TENANT}/api/v1/offices")
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"]


def test_a_body_over_1_mib_answers_413_as_documented(
    sqlite_platform: Platform, api: Api, spec: dict[str, Any]
) -> None:
    for method, path, operation in operations(spec):
        if "requestBody" in operation:
            assert "413" in operation["responses"], (method, path)
    before = row_counts(sqlite_platform, TENANT)
    body = json.dumps({"given_name": "x" * (MIB + 1)})
    response = api.request(
        "POST", "clients", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json["code"] == "payload_too_large"
    assert row_counts(sqlite_platform, TENANT) == before


def test_bodies_whose_fields_are_all_optional_may_be_left_out(
    api: Api, spec: dict[str, Any]
) -> None:
    """The document said a body was required; without one these change nothing (PATCH),
    revoke as of now or withdraw without a reason, exactly as with ``{}``."""
    optional = {
        ("patch", "/api/v1/clients/{client_id}"),
        ("post", "/api/v1/consents/{consent_id}/revoke"),
        ("post", "/api/v1/referrals/{referral_id}/withdraw"),
    }
    for method, path, operation in operations(spec):
        if "requestBody" in operation:
            assert operation["requestBody"]["required"] is ((method, path) not in optional)
    client = new_client(api)
    unchanged = api.request("PATCH", f"clients/{client['id']}")
    assert unchanged.status_code == 200 and unchanged.json == client
    consent = api.ok("POST", f"clients/{client['id']}/consents", consent_body(), 201)
    revoked = api.request("POST", f"consents/{consent['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    missing = api.request("POST", f"clients/{client['id']}/consents")
    assert missing.status_code == 422 and "signed_at" in missing.json["fields"]


def test_a_body_sent_with_get_or_delete_is_not_read(api: Api) -> None:
    """Only POST, PUT and PATCH have bodies here; a GET's body once answered 400 or 422,
    which no GET in the document says."""
    deep = "[" * 40 + "]" * 40
    headers = {"Content-Type": "application/json"}
    assert api.request("GET", "offices", data=deep, headers=headers).status_code == 200
    nul = json.dumps({"x": "a\u0000b"})
    assert api.request("GET", "partners", data=nul, headers=headers).status_code == 200
    gone = api.request("DELETE", f"agreements/{uuid.uuid4()}", data=deep, headers=headers)
    assert gone.status_code == 404


def test_the_token_endpoint_and_the_common_rules_are_described(spec: dict[str, Any]) -> None:
    """The token endpoint is no operation of the document; its 429 with Retry-After (pinned by
    test_oauth.py) is told where clients look for it: the security scheme."""
    scheme = spec["components"]["securitySchemes"]["oauth2"]["description"]
    assert "429" in scheme and "Retry-After" in scheme and "invalid_client" in scheme
    rules = spec["info"]["description"]
    assert "413" in rules and "415" in rules and "invalid_text" in rules and "Allow" in rules


def test_unknown_body_fields_are_refused_as_documented(api: Api, spec: dict[str, Any]) -> None:
    """Every body schema says ``additionalProperties: false`` (apispec drops it from a schema
    whose Meta has a description, so cross-field rules are told on the fields instead)."""
    schemas = spec["components"]["schemas"]
    for method, path, operation in operations(spec):
        if "requestBody" in operation:
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            name = ref.rsplit("/", 1)[-1]
            assert schemas[name]["additionalProperties"] is False, (method, path, name)
    client = new_client(api)
    refused = api.post(f"clients/{client['id']}/consents", {**consent_body(), "extra": 1})
    assert refused.status_code == 422 and "extra" in refused.json["fields"]
