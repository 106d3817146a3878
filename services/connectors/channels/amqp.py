"""The AMQP channel: the agency's system has its own queue pair in the shared vhost.

``<tenant>.agency.<kind>.referrals`` carries Integra's signed messages to the agency;
``<tenant>.agency.<kind>.answers`` carries the agency's answers back (JSON, see
``services.connectors.agency.amqp_client``). Both are published to the topic exchange
``integra.agency`` with the queue's name as routing key. The agency's broker user may read only
the first queue and publish only the second routing key (a topic permission), so the broker
itself authenticates who answers. The queues are declared by ``messaging.topology`` when the
tenant is provisioned.

The connector side uses kombu, so the same channel runs on RabbitMQ and on the embedded bus.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import kombu
from kombu.exceptions import KombuError, OperationalError

from messaging.envelope import Envelope
from messaging.topology import AgencyPair, declare_agency_pair_kombu
from messaging.transports.base import Transport
from tenants.registry import PartnerEntry, Tenant

from .base import AgencyAnswer, DeliveryFailed

log = logging.getLogger(__name__)

CONTENT_TYPE_SIGNED = "application/jose"
CONTENT_TYPE_ANSWER = "application/json"


def parse_answer(body: bytes | str, message_id: str | None = None) -> AgencyAnswer:
    """The agency's JSON answer in canonical form; ValueError says what is wrong."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("answer is not a JSON object")
    missing = {"id", "type", "payload", "occurred_at"} - set(data)
    if missing:
        raise ValueError(f"missing fields {sorted(missing)}")
    try:
        occurred = datetime.fromisoformat(str(data["occurred_at"]))
        answer_id = uuid.UUID(str(data["id"]))
        correlation = uuid.UUID(str(data["correlation_id"])) if data.get("correlation_id") else None
    except ValueError as exc:
        raise ValueError(f"bad id or timestamp: {exc}") from exc
    if occurred.tzinfo is None:
        raise ValueError("occurred_at needs a UTC offset")
    if not isinstance(data["payload"], dict):
        raise ValueError("payload is not an object")
    return AgencyAnswer(
        message_id=answer_id,
        type=str(data["type"]),
        version=int(data.get("version", 1)),
        payload=data["payload"],
        occurred_at=occurred,
        correlation_id=correlation,
    )


class AmqpChannel:
    """The connector's end of the agency's queue pair (implements Channel)."""

    name = "amqp"

    def __init__(
        self,
        url: str,
        kind: str,
        *,
        tenant: str,
        connect: Callable[[str], kombu.Connection],
        declare: bool,
    ) -> None:
        """``connect`` opens a kombu connection to ``url`` on the bus's transport; ``declare``:
        whether this client declares its queues (see ``Transport.clients_declare``)."""
        self.url = url
        self.kind = kind
        self.pair = AgencyPair(kind, tenant)
        self.connect = connect
        self.declare = declare
        self._connection: kombu.Connection | None = None
        self._answers: Any = None

    def _conn(self) -> kombu.Connection:
        if self._connection is None:
            connection = self.connect(self.url)
            connection.ensure_connection(max_retries=1)
            if self.declare:
                declare_agency_pair_kombu(connection, self.kind, self.pair.tenant)
            self._connection = connection
        return self._connection

    def _drop(self) -> None:
        self._answers = None
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:
                log.debug("closing a broken connection failed", exc_info=True)
        self._connection = None

    def deliver(self, envelope: Envelope, signed: bytes) -> None:
        try:
            with self._conn().Producer() as producer:
                producer.publish(
                    signed,
                    exchange=self.pair.to_agency,
                    routing_key=self.pair.referrals,
                    content_type=CONTENT_TYPE_SIGNED,
                    content_encoding="binary",
                    delivery_mode=2,
                    message_id=str(envelope.id),
                    type=envelope.type,
                    correlation_id=str(envelope.correlation_id),
                    mandatory=not self.declare,  # kombu's virtual transport has no returns
                    retry=False,
                )
        except (KombuError, OperationalError, OSError, ConnectionError) as exc:
            self._drop()
            raise DeliveryFailed(f"agency queue unreachable: {exc}") from exc
        except Exception as exc:  # e.g. a nack or returned (unroutable) message
            self._drop()
            raise DeliveryFailed(f"agency queue refused the message: {exc!r}") from exc

    def receive(self, limit: int = 100) -> list[AgencyAnswer]:
        answers: list[AgencyAnswer] = []
        try:
            if self._answers is None:
                queue = kombu.Queue(self.pair.answers, no_declare=True)
                self._answers = self._conn().SimpleQueue(queue, no_ack=False)
            queue = self._answers
        except Exception as exc:  # unreachable, refused, or closed under us
            self._drop()
            log.warning("agency %s answers unreachable: %s", self.kind, exc)
            return answers
        for _ in range(limit):
            try:
                message = queue.get(block=False)
            except queue.Empty:
                break
            except Exception as exc:  # kombu's, amqp's or the socket's: the connection is gone
                self._drop()
                log.warning("agency %s answers: %s; reconnecting", self.kind, exc)
                break
            try:
                answer = parse_answer(message.body, message.properties.get("message_id"))
            except ValueError as exc:
                log.warning("agency %s sent a malformed answer: %s", self.kind, exc)
                self._return_to_sender(None, "malformed", str(exc))
                message.ack()
                continue
            answers.append(
                AgencyAnswer(**{**answer.__dict__, "handle": message})  # settle later
            )
        return answers

    def settle(self, answer: AgencyAnswer) -> None:
        answer.handle.ack()

    def refuse(self, answer: AgencyAnswer, reason_code: str, reason_text: str) -> None:
        self._return_to_sender(answer.message_id, reason_code, reason_text, answer.type)
        answer.handle.ack()

    def _return_to_sender(
        self, message_id: uuid.UUID | None, code: str, text: str, message_type: str | None = None
    ) -> None:
        """A technical rejection back to the agency (like XInneres' ReturnToSender)."""
        notice = {
            "type": "message.rejected",
            "version": 1,
            "payload": {
                "rejected_message_id": str(message_id) if message_id else None,
                "rejected_type": message_type,
                "reason_code": code,
                "reason_text": text[:2000],
            },
        }
        with self._conn().Producer() as producer:
            producer.publish(
                json.dumps(notice).encode(),
                exchange=self.pair.to_agency,
                routing_key=self.pair.referrals,
                content_type=CONTENT_TYPE_ANSWER,
                delivery_mode=2,
                message_id=str(uuid.uuid4()),
                type="message.rejected",
            )

    def close(self) -> None:
        self._drop()


def build_amqp_channel(transport: Transport, tenant: Tenant, partner: PartnerEntry) -> AmqpChannel:
    """The channel registered for ``amqp`` partners (see :mod:`.registry`): the connector's
    own broker user, connecting and declaring as the bus's transport does."""
    return AmqpChannel(
        transport.url(tenant, partner.kind),
        partner.kind,
        tenant=tenant.slug,
        connect=transport.kombu_connection,
        declare=transport.clients_declare,
    )
