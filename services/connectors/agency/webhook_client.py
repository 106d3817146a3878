"""The agency's side of the webhook channel: sign an answer and POST it to Integra's callback.

Integra POSTs its referrals to the agency's own endpoint (a compact JWS signed with the
tenant's key, ``Content-Type: application/jose``). The agency answers by POSTing a compact JWS
signed with *its own* key, whose public half the operator registered with Integra, to
``https://<host>/t/<tenant>/agency/<kind>/callback``::

    key = ECKey.import_key(json.load(open("jobcenter-private.json")))   # has a "kid"
    answer = {"id": str(uuid.uuid4()), "type": "referral.accepted", "version": 1,
              "correlation_id": referral_id, "occurred_at": datetime.now(UTC),
              "payload": {"referral_id": referral_id, "accepted_at": ...}}
    response = post_answer(callback_url, sign_answer(key, answer))

On its own endpoint the agency checks every request with :func:`verify_integra_message`
(Integra's signature, against the tenant's JWKS) before it stores anything, and answers the
``OPTIONS`` probe of ``integra partner check`` with :func:`probe_answer`.

Integra's partner simulators use this module too. It needs only joserfc and requests.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import requests
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from .protocol import ANSWER_JWS_ALG, ANSWER_JWS_TYP, JOSE_CONTENT_TYPE, PROBE_TYPE


class NotFromIntegra(Exception):
    """The message is not signed by the tenant (or not for this agency): answer 401."""


def verify_integra_message(
    token: bytes | str, tenant_jwks: Mapping[str, Any], *, kind: str | None = None
) -> dict[str, Any]:
    """The envelope of a message Integra signed (a referral POSTed to the agency's endpoint,
    or the probe), after checking the signature against the tenant's JWKS (``{"keys": [..]}``,
    ES256) and, given ``kind``, that it is addressed to this agency kind."""
    text = token.decode("ascii", errors="replace") if isinstance(token, bytes) else token
    try:
        keys = KeySet.import_key_set(dict(tenant_jwks))  # type: ignore[arg-type]
        verified = jws.deserialize_compact(text.strip(), keys, algorithms=["ES256"])
        envelope = json.loads(verified.payload)
    except (JoseError, ValueError, TypeError) as exc:
        raise NotFromIntegra(f"signature not valid: {exc}") from exc
    if not isinstance(envelope, dict):
        raise NotFromIntegra("the signed payload is not an object")
    if kind is not None and envelope.get("recipient") != kind:
        raise NotFromIntegra(f"addressed to {envelope.get('recipient')!r}, not {kind!r}")
    return envelope


def probe_answer(header: str | None, tenant_jwks: Mapping[str, Any], kind: str) -> int:
    """The status an agency's endpoint answers ``OPTIONS`` with: 204 for a valid probe of
    Integra (``X-Integra-Probe`` header), 401 otherwise."""
    if not header:
        return 401
    try:
        envelope = verify_integra_message(header, tenant_jwks, kind=kind)
    except NotFromIntegra:
        return 401
    return 204 if envelope.get("type") == PROBE_TYPE else 401


def sign_answer(private_key: ECKey, answer: Mapping[str, Any]) -> bytes:
    """The compact JWS of an answer, as an agency sends it to the callback endpoint.

    ``answer`` is the JSON object ``{"id", "type", "version", "correlation_id",
    "occurred_at", "payload"}`` (optionally ``"consent_id"`` and ``"tenant"``); UUIDs and
    timezone-aware datetimes are turned into strings. The key's ``kid`` goes in the header.
    """
    if not private_key.kid:
        raise ValueError("the partner key needs a kid")
    body = json.dumps(answer, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    header = {"alg": ANSWER_JWS_ALG, "kid": private_key.kid, "typ": ANSWER_JWS_TYP}
    token = jws.serialize_compact(header, body.encode(), private_key, algorithms=[ANSWER_JWS_ALG])
    return token.encode("ascii")


def _json_default(value: Any) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetimes in answers must be timezone-aware")
        return value.isoformat()
    if hasattr(value, "isoformat"):  # date
        return str(value.isoformat())
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def post_answer(
    url: str,
    signed: bytes,
    timeout: float = 5.0,
    *,
    http: requests.Session | None = None,
) -> requests.Response:
    """POST a signed answer to a callback URL; returns the response (any status).

    202 accepted, 200 duplicate (both mean done); 422 refused or invalid and 401 not
    authenticated are final; 413 too large; on 5xx or a connection error retry later with the
    same signed bytes (the id makes the retry harmless).
    """
    sender = http if http is not None else requests
    response: requests.Response = sender.post(
        url,
        data=signed,
        headers={"Content-Type": JOSE_CONTENT_TYPE, "Accept": "application/json"},
        timeout=(timeout, timeout),
        allow_redirects=False,
    )
    return response
