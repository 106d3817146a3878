"""Simulated agencies on their channels: the agency's side of AMQP, webhook and XML files.

The adapters are Integra's own stand-ins for agency systems; real agencies use the shipped
``agency`` package (AMQP client, webhook answers), their own web endpoint (webhook) or their
case software's import and export folders (XML).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import kombu

from messaging.signing import BusKeyring
from messaging.topology import AgencyPair, declare_agency_pair_kombu

from .simulators import SimulatedAgency

log = logging.getLogger(__name__)


def verify_tenant_message(keys: BusKeyring, body: bytes) -> dict[str, Any]:
    """What an agency does first: check Integra's signature, then read the envelope."""
    from joserfc import jws

    token = jws.deserialize_compact(body.decode("ascii"), keys.verification_keys)
    data: dict[str, Any] = json.loads(token.payload)
    return data


class AmqpAgencyAdapter:
    """The simulated agency on its AMQP queue pair (kombu: RabbitMQ or the embedded bus)."""

    def __init__(
        self,
        url: str,
        agency: SimulatedAgency,
        keys: BusKeyring,
        *,
        connect: Callable[[str], kombu.Connection],
        declare: bool,
        poll_interval: float,
    ) -> None:
        """``connect``, ``declare`` and ``poll_interval`` come from the bus's transport."""
        self.url = url
        self.agency = agency
        self.keys = keys
        self.kind = agency.kind
        self.pair = AgencyPair(agency.kind)
        self.connect = connect
        self.declare = declare
        self.poll_interval = poll_interval
        self.stop_event = threading.Event()

    def pump(self, connection: kombu.Connection, inbound: Any) -> int:
        moved = 0
        while True:
            try:
                message = inbound.get(block=False)
            except inbound.Empty:
                break
            try:
                if message.content_type == "application/json":
                    envelope = json.loads(message.body)
                else:
                    envelope = verify_tenant_message(self.keys, message.body)
                self.agency.on_message(envelope)
            except Exception:
                log.exception("simulated %s could not read a message", self.kind)
            message.ack()
            moved += 1
        answers = self.agency.due_answers()
        if answers:
            exchange = kombu.Exchange(
                self.pair.from_agency, type="direct", durable=True, no_declare=True
            )
            with connection.Producer() as producer:
                for answer in answers:
                    producer.publish(
                        json.dumps(answer).encode(),
                        exchange=exchange,
                        routing_key=self.pair.answers,
                        content_type="application/json",
                        content_encoding="utf-8",
                        delivery_mode=2,
                        message_id=answer["id"],
                        type=answer["type"],
                    )
                    moved += 1
        return moved

    def run(self, interval: float | None = None) -> None:
        if interval is None:
            interval = self.poll_interval
        while not self.stop_event.is_set():
            try:
                with self.connect(self.url) as connection:
                    if self.declare:
                        declare_agency_pair_kombu(connection, self.kind)
                    inbound = connection.SimpleQueue(
                        kombu.Queue(self.pair.referrals, no_declare=True), no_ack=False
                    )
                    while not self.stop_event.is_set():
                        if not self.pump(connection, inbound):
                            self.stop_event.wait(interval)
            except Exception:
                log.exception("simulated %s: connection problem; retrying", self.kind)
                self.stop_event.wait(1.0)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name=f"sim-amqp-{self.kind}", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stop_event.set()


class WebhookAgencyAdapter:
    """The simulated agency's web endpoint (a WSGI app the gateway mounts at
    /sim/<tenant>/<kind>) and the client that posts its answers to Integra's callback."""

    def __init__(
        self,
        agency: SimulatedAgency,
        keys: BusKeyring,
        partner_key: Any,
        callback_url: str,
    ) -> None:
        from flask import Flask, request

        self.agency = agency
        self.keys = keys
        self.partner_key = partner_key
        self.callback_url = callback_url
        self.stop_event = threading.Event()
        self.app = Flask(f"sim-{agency.kind}")

        @self.app.post("/")
        def receive() -> Any:
            if self.agency.refuses_delivery():
                return {"error": "simulated outage"}, 503
            try:
                envelope = verify_tenant_message(self.keys, request.get_data())
            except Exception as exc:
                return {"error": f"signature not valid: {exc}"}, 401
            self.agency.on_message(envelope)
            return {"status": "received"}, 202

    def pump(self) -> int:
        from .agency.webhook_client import post_answer, sign_answer

        sent = 0
        for answer in self.agency.due_answers():
            for attempt in range(5):
                try:
                    response = post_answer(
                        self.callback_url, sign_answer(self.partner_key, answer), timeout=5.0
                    )
                except Exception as exc:
                    log.warning("simulated %s: callback failed: %s", self.agency.kind, exc)
                    self.stop_event.wait(0.2 * (attempt + 1))
                    continue
                if response.status_code < 500:
                    sent += 1
                    break
                self.stop_event.wait(0.2 * (attempt + 1))
        return sent

    def run(self, interval: float = 0.05) -> None:
        while not self.stop_event.is_set():
            if not self.pump():
                self.stop_event.wait(interval)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(
            target=self.run, name=f"sim-webhook-{self.agency.kind}", daemon=True
        )
        thread.start()
        return thread

    def stop(self) -> None:
        self.stop_event.set()


class XmlAgencyAdapter:
    """The simulated agency's case software importing and exporting XML files."""

    def __init__(
        self,
        base_dir: Any,
        agency: SimulatedAgency,
        *,
        tenant: str,
        own_authority: Any,
        integra_authority: Any,
    ) -> None:
        from pathlib import Path

        self.base = Path(base_dir)
        self.agency = agency
        self.tenant = tenant
        self.own_authority = own_authority
        self.integra_authority = integra_authority
        self.consents: dict[str, str] = {}
        self.stop_event = threading.Event()

    def pump(self) -> int:
        import os
        import uuid as uuid_module
        from datetime import datetime

        from messaging.envelope import Envelope

        from .channels.xoev import envelope_to_xml, xml_to_envelope

        moved = 0
        outgoing = self.base / "outgoing"
        imported = self.base / "agency-imported"
        imported.mkdir(parents=True, exist_ok=True)
        for path in sorted(outgoing.glob("*.xml")) if outgoing.exists() else []:
            try:
                envelope = xml_to_envelope(path.read_bytes())
            except Exception:
                log.exception("simulated %s could not import %s", self.agency.kind, path.name)
                os.replace(path, imported / (path.name + ".unreadable"))
                continue
            if envelope.type == "referral.requested" and envelope.consent_id:
                self.consents[str(envelope.correlation_id)] = str(envelope.consent_id)
            self.agency.on_message(envelope.to_dict())
            os.replace(path, imported / path.name)
            moved += 1
        incoming = self.base / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        for answer in self.agency.due_answers():
            correlation = answer.get("correlation_id") or answer["id"]
            consent = self.consents.get(str(correlation))
            if answer["type"] == "course_obligation.imposed":
                consent = answer["id"]
            envelope = Envelope(
                id=uuid_module.UUID(answer["id"]),
                type=answer["type"],
                version=1,
                tenant=self.tenant,
                sender=self.agency.kind,
                recipient="agreements",
                correlation_id=uuid_module.UUID(str(correlation)),
                occurred_at=datetime.fromisoformat(answer["occurred_at"]),
                consent_id=uuid_module.UUID(consent) if consent else None,
                payload=answer["payload"],
            )
            data = envelope_to_xml(
                envelope,
                sender_authority=self.own_authority,
                recipient_authority=self.integra_authority,
            )
            tmp = incoming / f".{answer['id']}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, incoming / f"{answer['id']}.xml")
            moved += 1
        return moved

    def run(self, interval: float = 0.25) -> None:
        while not self.stop_event.is_set():
            try:
                busy = self.pump()
            except Exception:
                log.exception("simulated %s: pass failed", self.agency.kind)
                busy = 0
            if not busy:
                self.stop_event.wait(interval)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name=f"sim-xml-{self.agency.kind}", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stop_event.set()
