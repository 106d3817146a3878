"""ES256 compact JWS on the cryptography library: exactly JWS (joserfc verifies what it signs
and the other way round), and every way a token can be wrong is refused."""

from __future__ import annotations

import json

import pytest
from joserfc import jws
from joserfc.jwk import ECKey

from messaging.compact_jws import Es256Signer, JwsError, b64url, read_header, verify

KEY = ECKey.generate_key("P-256", parameters={"kid": "t.sig.1"}, private=True)
OTHER = ECKey.generate_key("P-256", parameters={"kid": "t.sig.2"}, private=True)
HEADER = {"alg": "ES256", "kid": "t.sig.1", "typ": "integra+jws"}
PAYLOAD = json.dumps({"type": "referral.requested", "note": "Grüße"}).encode()


def signer() -> Es256Signer:
    return Es256Signer(KEY.private_key, HEADER)  # type: ignore[arg-type]


def test_joserfc_verifies_what_it_signs() -> None:
    token = signer().sign(PAYLOAD)
    obj = jws.deserialize_compact(token.decode(), KEY, algorithms=["ES256"])
    assert obj.payload == PAYLOAD
    assert obj.headers() == HEADER


def test_it_verifies_what_joserfc_signs() -> None:
    token = jws.serialize_compact(HEADER, PAYLOAD, KEY, algorithms=["ES256"]).encode()
    assert verify(token, KEY.public_key) == PAYLOAD  # type: ignore[arg-type]
    assert read_header(token) == HEADER


def test_each_signature_is_fresh_and_still_valid() -> None:
    first, second = signer().sign(PAYLOAD), signer().sign(PAYLOAD)
    assert first != second  # ECDSA signatures are randomised
    for token in (first, second):
        assert verify(token, KEY.public_key) == PAYLOAD  # type: ignore[arg-type]


def _parts(token: bytes) -> list[bytes]:
    return token.split(b".")


@pytest.mark.parametrize(
    ("mangle", "code"),
    [
        (lambda p: [p[0], b64url(b'{"type":"forged"}'), p[2]], "invalid_signature"),
        (lambda p: [p[0], p[1], p[2][:-4] + b"AAAA"], "invalid_signature"),
        (lambda p: [p[0], p[1], b64url(b"short")], "invalid_signature"),
        (lambda p: [b64url(b'{"alg":"none"}'), p[1], p[2]], "malformed"),
        (lambda p: [b64url(b'{"alg":"HS256"}'), p[1], p[2]], "malformed"),
        (lambda p: [b64url(b'{"alg":"ES256","crit":["x"]}'), p[1], p[2]], "malformed"),
        (lambda p: [b64url(b"[]"), p[1], p[2]], "malformed"),
        (lambda p: [b"!!!", p[1], p[2]], "malformed"),
        (lambda p: [p[0], p[1]], "malformed"),
        (lambda p: [p[0], b"*", p[2]], "malformed"),
    ],
)
def test_a_wrong_token_is_refused(mangle: object, code: str) -> None:
    token = b".".join(mangle(_parts(signer().sign(PAYLOAD))))  # type: ignore[operator]
    with pytest.raises(JwsError) as refused:
        verify(token, KEY.public_key)  # type: ignore[arg-type]
    assert refused.value.code == code


def test_another_keys_signature_is_refused() -> None:
    token = signer().sign(PAYLOAD)
    with pytest.raises(JwsError) as refused:
        verify(token, OTHER.public_key)  # type: ignore[arg-type]
    assert refused.value.code == "invalid_signature"


def test_only_p256_keys_and_es256_headers_are_taken() -> None:
    p384 = ECKey.generate_key("P-384", private=True)
    with pytest.raises(ValueError, match="P-256"):
        Es256Signer(p384.private_key, HEADER)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ES256"):
        Es256Signer(KEY.private_key, {**HEADER, "alg": "ES384"})  # type: ignore[arg-type]
