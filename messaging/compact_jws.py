"""Compact JWS with ES256 (RFC 7515, RFC 7518 §3.4) on the ``cryptography`` library directly.

Every bus message is signed once and verified once or twice; through joserfc each of those
cost several hundred microseconds of Python around a few tens of microseconds of ECDSA
(header parsing and serialising, key objects rebuilt, algorithm registries consulted). The
format is exactly JWS: joserfc (and any other JOSE library) verifies what this signs and
the other way round (tests/messaging/test_compact_jws.py holds both to it). Keys stay JWKs
managed by joserfc (``messaging.signing``); this module only uses their ``cryptography``
objects.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

ALG = "ES256"
_ECDSA = ec.ECDSA(hashes.SHA256())
_COORDINATE = 32  # bytes of r and s on P-256


class JwsError(Exception):
    """The token is not a well-formed ES256 compact JWS (``malformed``) or its signature does
    not verify (``invalid_signature``)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def b64url_decode(data: bytes) -> bytes:
    """Strict base64url: a character outside the alphabet is an error, not skipped."""
    return base64.b64decode(data + b"=" * (-len(data) % 4), altchars=b"-_", validate=True)


class Es256Signer:
    """Signs payloads with one P-256 key; the protected header is encoded once."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, header: Mapping[str, Any]) -> None:
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("ES256 needs a P-256 key")
        if header.get("alg") != ALG:
            raise ValueError("the header must say alg ES256")
        self._key = key
        self._header = b64url(json.dumps(dict(header), separators=(",", ":")).encode())

    def sign(self, payload: bytes) -> bytes:
        """The compact serialisation ``header.payload.signature`` (ASCII bytes)."""
        signing_input = self._header + b"." + b64url(payload)
        r, s = decode_dss_signature(self._key.sign(signing_input, _ECDSA))
        signature = r.to_bytes(_COORDINATE, "big") + s.to_bytes(_COORDINATE, "big")
        return signing_input + b"." + b64url(signature)


def read_header(token: bytes) -> dict[str, Any]:
    """The protected header of a compact JWS, unverified (to pick the key by ``kid``)."""
    try:
        encoded, _, _ = token.partition(b".")
        header = json.loads(b64url_decode(encoded))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise JwsError("malformed", "not a compact JWS") from exc
    if not isinstance(header, dict):
        raise JwsError("malformed", "the JWS header is not an object")
    return header


def verify(token: bytes, key: ec.EllipticCurvePublicKey) -> bytes:
    """The payload of ``token`` if ``key`` signed it with ES256; JwsError otherwise."""
    parts = token.split(b".")
    if len(parts) != 3:
        raise JwsError("malformed", "a compact JWS has three parts")
    header = read_header(token)
    if header.get("alg") != ALG:
        raise JwsError("malformed", f"JWS alg must be {ALG}")
    if "crit" in header:
        raise JwsError("malformed", "no critical header extensions are understood")
    try:
        signature = b64url_decode(parts[2])
        payload = b64url_decode(parts[1])
    except (ValueError, binascii.Error) as exc:
        raise JwsError("malformed", "not base64url") from exc
    if len(signature) != 2 * _COORDINATE:
        raise JwsError("invalid_signature", "an ES256 signature has 64 bytes")
    r = int.from_bytes(signature[:_COORDINATE], "big")
    s = int.from_bytes(signature[_COORDINATE:], "big")
    try:
        key.verify(encode_dss_signature(r, s), parts[0] + b"." + parts[1], _ECDSA)
    except InvalidSignature as exc:
        raise JwsError("invalid_signature", "signature does not verify") from exc
    return payload
