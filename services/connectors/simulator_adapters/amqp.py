"""The simulated agency on the AMQP channel: its side of the queue pair (kombu: RabbitMQ or
the embedded bus), as a real agency runs the shipped ``services.connectors.agency`` client."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import kombu

from messaging.signing import BusKeyring
from messaging.topology import AgencyPair, agency_party, declare_agency_pair_kombu
from tenants.registry import PartnerEntry

from ..simulators import SimulatedAgency
from .base import SimulationSite, verify_tenant_message

log = logging.getLogger(__name__)


class AmqpAgencyAdapter:
    """The simulated agency on its AMQP queue pair (kombu: RabbitMQ or the embedded bus)."""

    endpoint = None

    def __init__(
        self,
        url: str,
        agency: SimulatedAgency,
        keys: BusKeyring,
        *,
        partner: PartnerEntry,
        tenant: str,
        connect: Callable[[str], kombu.Connection],
        declare: bool,
        poll_interval: float,
    ) -> None:
        """``connect``, ``declare`` and ``poll_interval`` come from the bus's transport."""
        self.url = url
        self.agency = agency
        self.partner = partner
        self.keys = keys
        self.kind = agency.kind
        self.pair = AgencyPair(agency.kind, tenant)
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
                self.pair.from_agency, type="topic", durable=True, no_declare=True
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

    def pump_once(self) -> int:
        """One pass on a connection opened for it and closed after (a job of the shared pool:
        no connection held while the agency has nothing to do)."""
        with self.connect(self.url) as connection:
            if self.declare:
                declare_agency_pair_kombu(connection, self.kind, self.pair.tenant)
            inbound = connection.SimpleQueue(
                kombu.Queue(self.pair.referrals, no_declare=True), no_ack=False
            )
            try:
                return self.pump(connection, inbound)
            finally:
                inbound.close()

    def run(self, interval: float | None = None) -> None:
        if interval is None:
            interval = self.poll_interval
        while not self.stop_event.is_set():
            try:
                with self.connect(self.url) as connection:
                    if self.declare:
                        declare_agency_pair_kombu(connection, self.kind, self.pair.tenant)
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


def simulate_on_amqp(site: SimulationSite, agency: SimulatedAgency) -> AmqpAgencyAdapter:
    """The adapter registered for ``amqp`` partners: the agency's own broker user."""
    transport = site.transport
    return AmqpAgencyAdapter(
        transport.url(site.tenant, agency_party(site.partner.kind)),
        agency,
        site.keys,
        partner=site.partner,
        tenant=site.tenant.slug,
        connect=transport.kombu_connection,
        declare=transport.clients_declare,
        poll_interval=transport.poll_interval,
    )
