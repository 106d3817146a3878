"""The token endpoint /t/<tenant>/oauth/token (client credentials), on PostgreSQL and SQLite.

Both client authentication methods work; a wrong secret, an unknown or revoked client gets
401 invalid_client (RFC 6749 § 5.2) and no token; only client_credentials is granted; tokens
and secrets are stored only as hashes.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from werkzeug.test import TestResponse

from services.agreements.db import utcnow
from services.agreements.identity.api_auth import TOKENS_PER_MINUTE
from services.agreements.identity.throttle import ALLOWANCES
from services.agreements.models import AccessToken, ApiClient
from services.agreements.models.vocabulary import Role
from tests.fixtures.cases import row_counts
from tests.fixtures.platform import Api, Platform

TENANT = "freiburg"
OFFICE = "mbe-caritas"


def token_request(
    platform: Platform,
    client_id: str,
    secret: str,
    *,
    method: str = "client_secret_basic",
    slug: str = TENANT,
    **form: str,
) -> TestResponse:
    data = {"grant_type": "client_credentials", **form}
    headers = {}
    if method == "client_secret_basic":
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    else:
        data |= {"client_id": client_id, "client_secret": secret}
    return platform.http().post(f"/t/{slug}/oauth/token", data=data, headers=headers)


def stored_tokens(platform: Platform) -> list[dict[str, Any]]:
    with platform.session(TENANT) as session:
        rows = session.execute(select(AccessToken.__table__)).mappings().all()
    return [dict(row) for row in rows]


def assert_invalid_client(platform: Platform, response: TestResponse) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.json["error"] == "invalid_client"
    assert "access_token" not in response.json


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_a_client_gets_a_working_token(platform: Platform, method: str) -> None:
    client_id, secret = platform.credentials(TENANT, Role.COUNSELLOR, OFFICE)
    response = token_request(platform, client_id, secret, method=method)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.json
    assert body["token_type"].lower() == "bearer"
    assert body["expires_in"] == platform.settings.token_lifetime
    assert "no-store" in response.headers.get("Cache-Control", "")
    api = Api(platform.http(), TENANT, body["access_token"])
    assert api.get("offices").status_code == 200

    digest = hashlib.sha256(body["access_token"].encode()).hexdigest()
    with platform.session(TENANT) as session:
        row = session.scalar(select(AccessToken).where(AccessToken.token_hash == digest))
    assert row is not None and row.client_id == client_id
    assert row.expires_at - row.issued_at == timedelta(seconds=platform.settings.token_lifetime)


def test_each_request_gets_a_new_token(platform: Platform) -> None:
    client_id, secret = platform.credentials(TENANT, Role.EVALUATOR)
    first = token_request(platform, client_id, secret).json["access_token"]
    second = token_request(platform, client_id, secret).json["access_token"]
    assert first != second
    for token in (first, second):
        assert Api(platform.http(), TENANT, token).get("partners").status_code == 200


def test_guessing_a_clients_secret_slows_down_without_locking_it_out(platform: Platform) -> None:
    """After a few wrong secrets for one client id the token endpoint asks to wait, growing
    with each further failure, even for the right secret; other clients are unaffected."""
    client_id, secret = platform.credentials(TENANT, Role.COUNSELLOR, OFFICE)
    other_id, other_secret = platform.credentials(TENANT, Role.COUNSELLOR, OFFICE)
    free = ALLOWANCES["clnt"].free
    for _ in range(free):
        assert token_request(platform, client_id, "wrong").status_code == 401
    throttled = token_request(platform, client_id, secret)
    assert throttled.status_code == 429
    assert throttled.json["code"] == "too_many_requests"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 2
    assert token_request(platform, other_id, other_secret).status_code == 200


def test_one_client_gets_at_most_its_tokens_per_minute(platform: Platform) -> None:
    client_id, secret = platform.credentials(TENANT, Role.EVALUATOR)
    for _ in range(TOKENS_PER_MINUTE):
        assert token_request(platform, client_id, secret).status_code == 200
    refused = token_request(platform, client_id, secret)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert len([t for t in stored_tokens(platform) if t["client_id"] == client_id]) == (
        TOKENS_PER_MINUTE
    )


def case_rows(platform: Platform, slug: str) -> dict[str, int]:
    """Rows per table, leaving out the throttle's count of failed attempts: a refused token
    request changes nothing else (tests below show that the failure itself is counted)."""
    counts = row_counts(platform, slug)
    counts.pop("login_failures")
    return counts


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_a_wrong_secret_gets_no_token(platform: Platform, method: str) -> None:
    client_id, secret = platform.credentials(TENANT, Role.COUNSELLOR, OFFICE)
    before = case_rows(platform, TENANT)
    assert_invalid_client(platform, token_request(platform, client_id, secret + "x", method=method))
    assert_invalid_client(platform, token_request(platform, client_id, "", method=method))
    assert case_rows(platform, TENANT) == before


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_an_unknown_client_gets_no_token(platform: Platform, method: str) -> None:
    before = case_rows(platform, TENANT)
    response = token_request(platform, "ic_nobody", "guess", method=method)
    assert_invalid_client(platform, response)
    assert case_rows(platform, TENANT) == before


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_unknown_client_and_wrong_secret_look_the_same(platform: Platform, method: str) -> None:
    """The token endpoint must not tell which client ids exist."""
    client_id, secret = platform.credentials(TENANT, Role.COUNSELLOR, OFFICE)
    wrong_secret = token_request(platform, client_id, secret + "x", method=method)
    unknown = token_request(platform, "ic_" + "0" * 32, secret, method=method)
    assert unknown.status_code == wrong_secret.status_code
    assert unknown.json == wrong_secret.json


def test_a_client_of_another_tenant_is_unknown(platform: Platform) -> None:
    client_id, secret = platform.credentials("essen", Role.COUNSELLOR, "mbe-awo")
    assert token_request(platform, client_id, secret, slug="essen").status_code == 200
    assert_invalid_client(platform, token_request(platform, client_id, secret, slug=TENANT))


def test_a_revoked_client_gets_no_token(platform: Platform) -> None:
    client_id, secret = platform.credentials(TENANT, Role.COUNSELLOR, OFFICE)
    with platform.session(TENANT) as session, session.begin():
        session.execute(
            update(ApiClient).where(ApiClient.client_id == client_id).values(revoked_at=utcnow())
        )
    before = case_rows(platform, TENANT)
    assert_invalid_client(platform, token_request(platform, client_id, secret))
    assert case_rows(platform, TENANT) == before


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "password", "username": "berater", "password": "geheim"},
        {"grant_type": "authorization_code", "code": "abc", "redirect_uri": "http://x/cb"},
        {"grant_type": "refresh_token", "refresh_token": "abc"},
        {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "x.y.z"},
        {"grant_type": ""},
    ],
    ids=["password", "authorization_code", "refresh_token", "jwt-bearer", "empty"],
)
def test_only_client_credentials_are_granted(platform: Platform, form: dict[str, str]) -> None:
    client_id, secret = platform.credentials(TENANT, Role.COUNSELLOR, OFFICE)
    before = row_counts(platform, TENANT)
    response = token_request(platform, client_id, secret, **form)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["error"] == "unsupported_grant_type"
    assert row_counts(platform, TENANT) == before


def test_the_token_endpoint_takes_only_post(platform: Platform) -> None:
    response = platform.http().get(f"/t/{TENANT}/oauth/token?grant_type=client_credentials")
    assert response.status_code == 405


def test_tokens_and_secrets_are_stored_only_as_hashes(platform: Platform) -> None:
    client_id, secret = platform.credentials(TENANT, Role.COUNSELLOR, OFFICE)
    tokens = [
        token_request(platform, client_id, secret, method=method).json["access_token"]
        for method in ("client_secret_basic", "client_secret_post")
    ]
    rows = stored_tokens(platform)
    stored = " ".join(str(value) for row in rows for value in row.values())
    for token in tokens:
        assert len(token) >= 30
        assert token not in stored
        digest = hashlib.sha256(token.encode()).hexdigest()
        assert [row["client_id"] for row in rows if row["token_hash"] == digest] == [client_id]
    with platform.session(TENANT) as session:
        clients = session.execute(select(ApiClient.__table__)).mappings().all()
    assert secret not in " ".join(str(value) for row in clients for value in row.values())
    [own] = [row for row in clients if row["client_id"] == client_id]
    assert own["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
