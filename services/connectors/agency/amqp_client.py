"""The client an agency runs to talk to Integra over AMQP (pika, RabbitMQ).

Integra ships this module (in the package :mod:`services.connectors.agency`) for the agency's
integrators; it needs only pika and joserfc::

    client = AgencyClient("amqps://integra.freiburg.agency-jobcenter:SECRET@mq.example/integra",
                          tenant="freiburg", kind="jobcenter",
                          tenant_jwks=json.load(open("freiburg-jwks.json")))
    for referral in client.fetch():
        envelope = referral.envelope          # verified: signed by the tenant, for us
        ...store it in the case software...
        client.ack(referral)                  # only after it is stored
    client.send("referral.accepted", {"referral_id": rid, "accepted_at": now_iso},
                correlation_id=rid)

Messages to the agency are compact JWS (the tenant's signature over the canonical envelope);
answers are JSON objects ``{"id", "type", "version", "correlation_id", "occurred_at",
"payload"}`` with the payload of the canonical contract. The agency's broker user may read
only its referrals queue and publish only its own answers routing key.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pika
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .protocol import (
    AGENCY_EXCHANGE,
    JSON_CONTENT_TYPE,
    answers_routing_key,
    referrals_queue,
)


class AgencyClientError(Exception):
    """Integra's broker did not take an answer, or a message failed verification."""


@dataclass
class ReceivedMessage:
    message_id: str | None
    type: str | None
    body: bytes
    delivery_tag: int
    #: The verified envelope (dict) for signed messages; the plain JSON for notices such as
    #: message.rejected; None if it could not be read.
    envelope: dict[str, Any] | None
    error: str | None = None


class AgencyClient:
    """One agency's connection to its queue pair on Integra's broker (pika, blocking).

    ``url`` carries the agency's own broker user; ``tenant`` is the municipality's slug (every
    name on the broker starts with it); ``tenant_jwks`` the tenant's public keys
    (a JWK Set), without which signed messages cannot be verified (``ReceivedMessage.error``).
    Answers are published with confirms and ``mandatory``: one Integra did not take raises
    :class:`AgencyClientError`.
    """

    def __init__(
        self,
        url: str,
        kind: str,
        *,
        tenant: str,
        tenant_jwks: dict[str, Any] | None = None,
        heartbeat: int = 30,
    ) -> None:
        self.kind = kind
        self.tenant = tenant
        self.keys = KeySet.import_key_set(tenant_jwks) if tenant_jwks else None  # type: ignore[arg-type]
        params = pika.URLParameters(url)
        params.heartbeat = heartbeat
        params.blocked_connection_timeout = 30
        self.connection = pika.BlockingConnection(params)
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()

    def _read(
        self, body: bytes, content_type: str | None
    ) -> tuple[dict[str, Any] | None, str | None]:
        if content_type == JSON_CONTENT_TYPE:
            try:
                return json.loads(body), None
            except ValueError as exc:
                return None, f"not JSON: {exc}"
        if self.keys is None:
            return None, "no tenant key set given; cannot verify"
        try:
            token = jws.deserialize_compact(body.decode("ascii"), self.keys)
            return json.loads(token.payload), None
        except (JoseError, ValueError, UnicodeDecodeError) as exc:
            return None, f"signature not valid: {exc}"

    def fetch(self, limit: int = 100) -> list[ReceivedMessage]:
        """Messages waiting for this agency (not yet acknowledged)."""
        received = []
        for _ in range(limit):
            method, properties, body = self.channel.basic_get(
                referrals_queue(self.tenant, self.kind)
            )
            if method is None:
                break
            envelope, error = self._read(body, properties.content_type)
            received.append(
                ReceivedMessage(
                    message_id=properties.message_id,
                    type=properties.type,
                    body=body,
                    delivery_tag=method.delivery_tag,
                    envelope=envelope,
                    error=error,
                )
            )
        return received

    def ack(self, message: ReceivedMessage) -> None:
        """Call only after the message is safely stored on the agency's side."""
        self.channel.basic_ack(message.delivery_tag)

    def send(
        self,
        message_type: str,
        payload: dict[str, Any],
        *,
        correlation_id: str | uuid.UUID | None,
        message_id: str | uuid.UUID | None = None,
        occurred_at: datetime | None = None,
        version: int = 1,
    ) -> str:
        """Send one answer; returns its id. Re-sending with the same id has one effect."""
        answer_id = str(message_id or uuid.uuid4())
        body = json.dumps(
            {
                "id": answer_id,
                "type": message_type,
                "version": version,
                "correlation_id": str(correlation_id) if correlation_id else None,
                "occurred_at": (occurred_at or datetime.now(UTC)).isoformat(),
                "payload": payload,
            }
        ).encode()
        try:
            self.channel.basic_publish(
                AGENCY_EXCHANGE,
                answers_routing_key(self.tenant, self.kind),
                body,
                pika.BasicProperties(
                    content_type=JSON_CONTENT_TYPE,
                    delivery_mode=pika.DeliveryMode.Persistent,
                    message_id=answer_id,
                    type=message_type,
                ),
                mandatory=True,
            )
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as exc:
            raise AgencyClientError(f"Integra did not take answer {answer_id}: {exc!r}") from exc
        return answer_id

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()
