"""The HTTPS webhook channel: referrals are POSTed to the agency, answers come back by callback.

Outgoing (:class:`WebhookChannel`): the envelope's compact JWS (signed with the tenant's bus key,
see :mod:`messaging.signing`) is POSTed as is to the partner's ``webhook_url``::

    POST <webhook_url>
    Content-Type: application/jose
    X-Integra-Message-Id: <envelope id>     the agency's idempotency key
    X-Integra-Tenant: <tenant slug>
    X-Integra-Type: <message type>

    <compact JWS>

2xx means the agency took the message. 5xx, 408, 425, 429, timeouts and connection errors are
retryable; any other 4xx is final (the agency's reason is kept); a 3xx is never followed (the
signed body would go to an address nobody vetted) and is final too: the registry's URL is wrong.
Retries and backoff are the connector's business, as for every channel.

Incoming (:func:`make_callback_blueprint`): the agency answers by POSTing a compact JWS signed
with *its own* key (see :mod:`services.connectors.partner_keys`; ``kid`` in the header) to
``/t/<tenant>/agency/<kind>/callback``. The JWS payload is a JSON object::

    {"id": "<uuid: the agency's message id, the same on every retry>",
     "type": "referral.accepted",            one of tenants.vocabulary.AGENCY_ANSWER_TYPES
     "version": 1,
     "correlation_id": "<referral id>" | null,
     "occurred_at": "2026-03-02T09:30:00+01:00",
     "consent_id": "<uuid>" | null,           optional, informational: the connector uses the
                                              consent of the referral it sent
     "tenant": "<tenant slug>",               optional; if given it must match
     "payload": {...}}                        the contract's payload (messaging.contracts)

Answers (JSON bodies):

==== ==================================================================================
202  accepted: ``{"status": "accepted", "message_id": ..}``
200  duplicate (this id took effect before): ``{"status": "duplicate", "message_id": ..}``
401  not authenticated (not a JWS, unknown kid, bad signature): message.rejected-like body
413  body over 256 KiB
422  shape or contract invalid, or refused by the agreement service: message.rejected-like
     ``{"rejected_message_id", "rejected_type", "reason_code", "reason_text"}``
5xx  Integra could not process it now: the agency should retry (same id)
==== ==================================================================================

:func:`sign_answer` and :func:`post_answer` are the agency side, used by the partner simulators
and the tests (and a reference for agencies that integrate).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from flask import Blueprint, Response, jsonify, request
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from joserfc.util import json_b64decode
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from messaging.contracts import ContractError, contract_for
from messaging.envelope import Envelope
from services.connectors.channels.base import AgencyAnswer, DeliveryFailed, IntakeResult
from services.connectors.partner_keys import (
    PARTNER_ALG,
    PartnerKeyError,
    load_partner_public_keys,
    public_key_path,
)
from tenants.registry import PartnerEntry
from tenants.settings import Settings
from tenants.vocabulary import AGENCY_ANSWER_TYPES, AGENCY_KINDS

JOSE_CONTENT_TYPE = "application/jose"
ANSWER_JWS_TYP = "integra-answer+jws"
MAX_CALLBACK_BODY = 256 * 1024
#: Status codes that mean "not now" although they are 4xx.
RETRYABLE_4XX = frozenset({408, 425, 429})
_REASON_LIMIT = 500
_ERROR_BODY_LIMIT = 64 * 1024
USER_AGENT = "Integra-Connector/1"


# --- outgoing -----------------------------------------------------------------------------


def _agency_reason(response: requests.Response, body: bytes) -> str:
    """The agency's own words for a refusal: a JSON reason field, else the start of the body."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("reason_text", "reason", "message", "error_description", "error", "detail"):
            value = data.get(key)
            if isinstance(value, str) and value:
                code = data.get("reason_code") or data.get("code")
                text = f"{code}: {value}" if isinstance(code, str) and code else value
                break
    reason = f"HTTP {response.status_code} {response.reason or ''}".rstrip()
    if text:
        reason += f": {text[:_REASON_LIMIT]}"
    return reason


class WebhookChannel:
    """Pushes signed envelopes to one partner agency's HTTPS endpoint (implements Channel).

    ``timeout`` (seconds) bounds connecting and each wait for response bytes. ``http``: a
    ``requests.Session`` to use (shared pool, test doubles); by default the channel owns one
    and closes it in :meth:`close`. Answers arrive through the callback endpoint
    (:func:`make_callback_blueprint`), so :meth:`receive` returns nothing and :meth:`settle` /
    :meth:`refuse` have nothing to do: the callback's HTTP response settles or refuses.
    """

    name = "webhook"

    def __init__(
        self,
        partner: PartnerEntry,
        *,
        tenant_slug: str,
        timeout: float = 5.0,
        http: requests.Session | None = None,
    ) -> None:
        if not partner.webhook_url:
            raise ValueError(f"partner {partner.key} has no webhook_url")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.partner = partner
        self.tenant_slug = tenant_slug
        self.url = partner.webhook_url
        self.timeout = timeout
        self._owns_http = http is None
        self._http = http if http is not None else requests.Session()

    def deliver(self, envelope: Envelope, signed: bytes) -> None:
        if envelope.tenant != self.tenant_slug:
            raise DeliveryFailed(
                f"envelope of tenant {envelope.tenant!r} on a channel of {self.tenant_slug!r}",
                retryable=False,
            )
        if envelope.recipient != self.partner.kind:
            raise DeliveryFailed(
                f"envelope for {envelope.recipient!r} on the {self.partner.kind} channel",
                retryable=False,
            )
        headers = {
            "Content-Type": JOSE_CONTENT_TYPE,
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "X-Integra-Message-Id": str(envelope.id),
            "X-Integra-Tenant": envelope.tenant,
            "X-Integra-Type": envelope.type,
        }
        try:
            response = self._http.post(
                self.url,
                data=signed,
                headers=headers,
                timeout=(self.timeout, self.timeout),
                allow_redirects=False,
                stream=True,  # read at most _ERROR_BODY_LIMIT of whatever the agency sends back
            )
        except requests.Timeout as exc:
            raise DeliveryFailed(f"timeout after {self.timeout:g}s: {exc}") from exc
        except requests.ConnectionError as exc:
            raise DeliveryFailed(f"agency unreachable: {exc}") from exc
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as exc:
            raise DeliveryFailed(f"bad webhook_url {self.url!r}: {exc}", retryable=False) from exc
        except requests.RequestException as exc:
            raise DeliveryFailed(f"request failed: {exc}") from exc
        try:
            status = response.status_code
            if 200 <= status < 300:
                return
            try:
                body = response.raw.read(_ERROR_BODY_LIMIT, decode_content=True) or b""
            except Exception:  # the reason is a courtesy; the status code decides
                body = b""
            reason = _agency_reason(response, body)
            if 300 <= status < 400:
                location = response.headers.get("Location", "?")
                raise DeliveryFailed(
                    f"{reason} (redirect to {location} not followed; fix the partner's "
                    "webhook_url)",
                    retryable=False,
                )
            if 400 <= status < 500 and status not in RETRYABLE_4XX:
                raise DeliveryFailed(reason, retryable=False)
            raise DeliveryFailed(reason, retryable=True)
        finally:
            response.close()

    def receive(self, limit: int = 100) -> list[AgencyAnswer]:
        return []  # push channel: answers arrive through the callback endpoint

    def settle(self, answer: AgencyAnswer) -> None:
        """Nothing to do: the callback's 202/200 response told the agency."""

    def refuse(self, answer: AgencyAnswer, reason_code: str, reason_text: str) -> None:
        """Nothing to do: the callback's 422 response told the agency (see IntakeResult)."""

    def close(self) -> None:
        if self._owns_http:
            self._http.close()


# --- incoming: the callback endpoint --------------------------------------------------------


Intake = Callable[[AgencyAnswer], IntakeResult]


@dataclass(frozen=True)
class CallbackHandle:
    """``AgencyAnswer.handle`` of a webhook answer: what the canonical fields leave out.

    ``consent_id``: the consent the agency echoed (types with personal data need one);
    ``kid``: the partner key that signed it; ``signed``: the exact JWS, for the audit trail.
    """

    tenant: str
    kind: str
    kid: str
    consent_id: uuid.UUID | None
    signed: bytes


class _AnswerSchema(Schema):
    class Meta:
        unknown = RAISE

    id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.Length(min=1, max=100))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    correlation_id = fields.UUID(required=True, allow_none=True)
    occurred_at = fields.AwareDateTime(required=True)
    payload = fields.Dict(keys=fields.String(), required=True)
    consent_id = fields.UUID(load_default=None, allow_none=True)
    tenant = fields.String(load_default=None, allow_none=True)


_ANSWER = _AnswerSchema()


class CallbackRefused(Exception):
    """An answer that cannot be taken; becomes the HTTP response ``status``."""

    def __init__(
        self,
        status: int,
        reason_code: str,
        reason_text: str,
        *,
        message_id: str | None = None,
        message_type: str | None = None,
    ) -> None:
        super().__init__(f"{status} {reason_code}: {reason_text}")
        self.status = status
        self.reason_code = reason_code
        self.reason_text = reason_text
        self.message_id = message_id
        self.message_type = message_type


class PartnerVerifier:
    """Verifies a partner's signed answers against its registered public keys.

    The key file is re-read when it changes (checked by its modification time on each call),
    so registering or rotating a key takes effect without a restart.
    """

    def __init__(self, settings: Settings, tenant_slug: str, kind: str) -> None:
        self.settings = settings
        self.tenant = tenant_slug
        self.kind = kind
        self._path = public_key_path(settings, tenant_slug, kind)
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, ECKey] = {}

    def _current_keys(self) -> dict[str, ECKey]:
        try:
            st = self._path.stat()
        except FileNotFoundError:
            self._stamp, self._keys = None, {}
            return self._keys
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            try:
                keyset = load_partner_public_keys(self.settings, self.tenant, self.kind)
            except PartnerKeyError:
                keys: dict[str, ECKey] = {}
            else:
                keys = {k.kid: k for k in keyset if isinstance(k, ECKey) and k.kid}
            self._stamp, self._keys = stamp, keys
        return self._keys

    def verify(self, body: bytes) -> tuple[str, bytes]:
        """The signing kid and the verified JWS payload; CallbackRefused(401) otherwise."""
        try:
            token = body.decode("ascii").strip()
            header = json_b64decode(token.split(".", 1)[0].encode("ascii"))
        except (UnicodeDecodeError, ValueError, IndexError) as exc:
            raise CallbackRefused(401, "malformed", "body is not a compact JWS") from exc
        if token.count(".") != 2 or not isinstance(header, dict):
            raise CallbackRefused(401, "malformed", "body is not a compact JWS")
        if header.get("alg") != PARTNER_ALG:
            raise CallbackRefused(401, "malformed", f"JWS alg must be {PARTNER_ALG}")
        kid = header.get("kid")
        key = self._current_keys().get(kid) if isinstance(kid, str) else None
        if key is None or not isinstance(kid, str):
            raise CallbackRefused(
                401, "unknown_key", f"kid {kid!r} is not a registered key of the {self.kind}"
            )
        try:
            obj = jws.deserialize_compact(token, key, algorithms=[PARTNER_ALG])
        except JoseError as exc:
            raise CallbackRefused(401, "invalid_signature", "signature does not verify") from exc
        return kid, obj.payload


def parse_answer(
    data: Any, *, tenant_slug: str, kind: str, kid: str, signed: bytes
) -> AgencyAnswer:
    """Check a verified answer's shape and contract; CallbackRefused(422) if it breaks them.

    The payload is checked against its contract schema (the schema part of
    :func:`messaging.contracts.load_payload`). The consent rule is left to the connector: it
    attaches the consent of the tracked referral when it turns the answer into an envelope, and
    ``load_payload`` runs again then (``outbox.append``). ``AgencyAnswer.payload`` is the wire
    (JSON) form as received, as ``Envelope.payload`` holds it.
    """
    if not isinstance(data, dict):
        raise CallbackRefused(422, "malformed", "the JWS payload must be a JSON object")
    raw_id = data.get("id") if isinstance(data.get("id"), str) else None
    raw_type = data.get("type") if isinstance(data.get("type"), str) else None
    try:
        loaded = _ANSWER.load(data)
    except ValidationError as exc:
        raise CallbackRefused(
            422, "malformed", _describe(exc.messages), message_id=raw_id, message_type=raw_type
        ) from exc
    message_id = str(loaded["id"])
    message_type: str = loaded["type"]

    def refuse(code: str, text: str) -> CallbackRefused:
        return CallbackRefused(422, code, text, message_id=message_id, message_type=message_type)

    if message_type not in AGENCY_ANSWER_TYPES:
        raise refuse("unknown_type", f"an agency cannot send {message_type!r}")
    if loaded["tenant"] is not None and loaded["tenant"] != tenant_slug:
        raise refuse("wrong_tenant", f"answer for tenant {loaded['tenant']!r}")
    correlation_id: uuid.UUID | None = loaded["correlation_id"]
    occurred_at: datetime = loaded["occurred_at"]
    wire_payload: dict[str, Any] = loaded["payload"]
    try:
        schema = contract_for(message_type, loaded["version"])
        typed = schema.load(wire_payload)
    except ContractError as exc:
        raise refuse(exc.code, _describe(exc.detail or exc.code)) from exc
    except ValidationError as exc:
        raise refuse("schema_invalid", _describe(exc.messages)) from exc
    referral_id = typed.get("referral_id")
    if isinstance(referral_id, uuid.UUID):
        if correlation_id is None:
            correlation_id = referral_id
        elif correlation_id != referral_id:
            raise refuse("schema_invalid", "correlation_id differs from payload.referral_id")
    return AgencyAnswer(
        message_id=loaded["id"],
        type=message_type,
        version=loaded["version"],
        payload=wire_payload,
        occurred_at=occurred_at,
        correlation_id=correlation_id,
        handle=CallbackHandle(tenant_slug, kind, kid, loaded["consent_id"], signed),
    )


def _describe(detail: Any) -> str:
    text = detail if isinstance(detail, str) else json.dumps(detail, default=str, sort_keys=True)
    return text[:2000]


def _rejection(
    status: int,
    reason_code: str,
    reason_text: str,
    message_id: str | None = None,
    message_type: str | None = None,
) -> tuple[Response, int]:
    body = {
        "rejected_message_id": message_id,
        "rejected_type": message_type,
        "reason_code": reason_code,
        "reason_text": reason_text,
    }
    return jsonify(body), status


def make_callback_blueprint(
    *,
    tenant_slug: str,
    kind: str,
    intake: Intake,
    settings: Settings,
    max_body: int = MAX_CALLBACK_BODY,
) -> Blueprint:
    """``POST /agency/<kind>/callback``, where one partner agency of one tenant answers.

    Mount it on the tenant's app (the gateway puts it under ``/t/<tenant>/``). ``settings``
    locates the partner's registered public key. ``intake`` commits the answer's effect and
    must be idempotent by ``answer.message_id`` (it says "duplicate" the second time); if it
    raises, the agency gets a 500 and retries with the same id.
    """
    if kind not in AGENCY_KINDS:
        raise ValueError(f"unknown agency kind {kind!r}")
    verifier = PartnerVerifier(settings, tenant_slug, kind)
    bp = Blueprint(f"agency_callback_{kind}", __name__)

    @bp.post(f"/agency/{kind}/callback")
    def callback() -> tuple[Response, int]:
        length = request.content_length
        if length is not None and length > max_body:
            return _rejection(413, "oversized", f"body larger than {max_body} bytes")
        body = request.stream.read(max_body + 1)
        if len(body) > max_body:
            return _rejection(413, "oversized", f"body larger than {max_body} bytes")
        try:
            kid, raw = verifier.verify(body)
            try:
                data = json.loads(raw)
            except ValueError as exc:
                raise CallbackRefused(422, "malformed", "JWS payload is not JSON") from exc
            answer = parse_answer(data, tenant_slug=tenant_slug, kind=kind, kid=kid, signed=body)
        except CallbackRefused as exc:
            return _rejection(
                exc.status, exc.reason_code, exc.reason_text, exc.message_id, exc.message_type
            )
        result = intake(answer)
        message_id = str(answer.message_id)
        if result.outcome == "accepted":
            return jsonify({"status": "accepted", "message_id": message_id}), 202
        if result.outcome == "duplicate":
            return jsonify({"status": "duplicate", "message_id": message_id}), 200
        return _rejection(
            422,
            result.reason_code or "handler_failed",
            result.reason_text or "refused",
            message_id,
            answer.type,
        )

    return bp


# --- the agency side (simulators, tests, reference for integrators) --------------------------


def sign_answer(private_key: ECKey, answer: Mapping[str, Any]) -> bytes:
    """The compact JWS of an answer, as an agency sends it to the callback endpoint.

    ``answer`` is the JSON object described in this module's docstring (values already in JSON
    form; UUIDs and datetimes are turned into strings). The key's ``kid`` goes in the header.
    """
    if not private_key.kid:
        raise ValueError("the partner key needs a kid")
    body = json.dumps(answer, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    header = {"alg": PARTNER_ALG, "kid": private_key.kid, "typ": ANSWER_JWS_TYP}
    token = jws.serialize_compact(header, body.encode(), private_key, algorithms=[PARTNER_ALG])
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
