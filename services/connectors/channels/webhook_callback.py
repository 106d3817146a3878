"""The HTTPS webhook channel, incoming: the endpoint where a partner agency answers.

The agency POSTs a compact JWS signed with *its own* key (see
:mod:`services.connectors.partner_keys`; ``kid`` in the header, checked by
:class:`~.partner_verifier.PartnerVerifier`) to ``/t/<tenant>/agency/<kind>/callback``. The JWS
payload is a JSON object::

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

The agency's side (signing and posting an answer) ships apart from the platform, in
:mod:`services.connectors.agency.webhook_client`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from messaging.contracts import ContractError, contract_for
from tenants.settings import Settings
from tenants.vocabulary import AGENCY_ANSWER_TYPES, AGENCY_KINDS

from .base import AgencyAnswer, Intake
from .partner_verifier import NotAuthenticated, PartnerVerifier

#: The JWS ``typ`` of an answer (the agency client sets it; the signature and ``alg`` decide).
ANSWER_JWS_TYP = "integra-answer+jws"
MAX_CALLBACK_BODY = 256 * 1024


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
        except NotAuthenticated as exc:
            return _rejection(401, exc.reason_code, exc.reason_text)
        try:
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


def make_callback_app(settings: Settings, tenant_slug: str, kind: str, intake: Intake) -> Flask:
    """The callback as a WSGI app of its own, mounted at ``/t/<tenant>/agency/<kind>`` (the
    gateway, or ``integra connector run --port``); registered for ``webhook`` partners."""
    app = Flask(f"callback-{tenant_slug}-{kind}")
    app.register_blueprint(
        make_callback_blueprint(
            tenant_slug=tenant_slug, kind=kind, intake=intake, settings=settings
        ),
        url_prefix="",
    )
    return app
