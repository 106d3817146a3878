"""The relying party's checks on what comes back from a provider."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from services.agreements.identity.relying_party import (
    LoginFailed,
    LoginTransaction,
    ProviderConfig,
    finish_login,
    validate_id_token,
)

KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
PROVIDER = ProviderConfig(
    issuer="http://localhost/t/freiburg",
    authorization_endpoint="http://localhost/t/freiburg/oidc/authorize",
    token_endpoint="http://localhost/t/freiburg/oidc/token",
    jwks_uri="http://localhost/t/freiburg/oidc/jwks",
    client_id="integra-portal",
    client_secret="s3cret",
)
JWKS = {"keys": [KEY.as_dict(private=False)]}


def id_token(key: RSAKey = KEY, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"iss": PROVIDER.issuer, "aud": ["integra-portal"], "sub": "u1", "iat": now,
              "exp": now + 300, "nonce": "n-1"}  # fmt: skip
    claims.update(overrides)
    return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)


def test_a_valid_token_gives_its_claims() -> None:
    assert validate_id_token(PROVIDER, id_token(), JWKS, "n-1")["sub"] == "u1"


@pytest.mark.parametrize(
    "token_kwargs",
    [
        {"nonce": "replayed"},
        {"iss": "http://localhost/t/essen"},
        {"aud": ["someone-else"]},
        {"exp": int(time.time()) - 3600},
        {"key": OTHER_KEY},
    ],
    ids=["nonce", "issuer", "audience", "expired", "signature"],
)
def test_a_wrong_token_is_refused(token_kwargs: dict[str, Any]) -> None:
    key = token_kwargs.pop("key", KEY)
    with pytest.raises(LoginFailed):
        validate_id_token(PROVIDER, id_token(key, **token_kwargs), JWKS, "n-1")


def test_authorization_url_uses_s256_of_the_verifier() -> None:
    transaction = LoginTransaction.start("http://localhost/t/freiburg/auth/callback", "/t/x/")
    query = parse_qs(urlsplit(transaction.authorization_url(PROVIDER)).query)
    digest = hashlib.sha256(transaction.code_verifier.encode()).digest()
    assert query["code_challenge"] == [base64.urlsafe_b64encode(digest).decode().rstrip("=")]
    assert query["code_challenge_method"] == ["S256"]
    assert transaction.code_verifier not in transaction.authorization_url(PROVIDER)


class FakeTransport:
    def __init__(self, token_body: dict[str, Any]) -> None:
        self.token_body = token_body
        self.posted: dict[str, str] = {}

    def post_form(
        self, url: str, data: dict[str, str], auth: tuple[str, str] | None
    ) -> tuple[int, dict[str, Any]]:
        self.posted = data
        return 200, self.token_body

    def get_json(self, url: str) -> dict[str, Any]:
        return JWKS


def test_callback_with_a_foreign_state_is_refused_before_any_exchange() -> None:
    transaction = LoginTransaction("state-1", "n-1", "v" * 43, "http://cb", "/t/x/")
    transport = FakeTransport({"id_token": id_token()})
    with pytest.raises(LoginFailed) as refused:
        finish_login(PROVIDER, transaction, {"state": "state-2", "code": "c"}, transport)
    assert refused.value.reason == "state_mismatch"
    assert transport.posted == {}


def test_callback_redeems_the_code_with_the_verifier() -> None:
    transaction = LoginTransaction("state-1", "n-1", "v" * 43, "http://cb", "/t/x/")
    transport = FakeTransport({"id_token": id_token()})
    claims = finish_login(PROVIDER, transaction, {"state": "state-1", "code": "c"}, transport)
    assert claims["sub"] == "u1"
    assert transport.posted["code_verifier"] == "v" * 43
