"""Isolation between tenants in the shared vhost, enforced by RabbitMQ itself.

Each check opens a fresh channel, because the broker closes a channel on ACCESS_REFUSED (403).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pika
import pytest

from deploy.wiring import bus_transport
from messaging import broker_admin, topology
from messaging.signing import ensure_tenant_keys
from messaging.transports.rabbitmq import RabbitMQTransport
from tenants.registry import Tenant
from tenants.settings import Settings

from .conftest import make_tenant

pytestmark = pytest.mark.rabbitmq

REFUSED = 403


@pytest.fixture
def other(bus: Tenant, settings: Settings) -> Iterator[Tenant]:
    tenant = make_tenant()
    ensure_tenant_keys(settings, tenant.slug)
    bus_transport(settings).provision(tenant)
    try:
        yield tenant
    finally:
        bus_transport(settings).deprovision(tenant)


class Client:
    """One user's connection; ``allowed``/``refused`` run an action on a fresh channel."""

    def __init__(self, url: str) -> None:
        self.connection = pika.BlockingConnection(pika.URLParameters(url))

    def channel(self) -> Any:
        channel = self.connection.channel()
        channel.confirm_delivery()
        return channel

    def allowed(self, action: Callable[[Any], object]) -> None:
        channel = self.channel()
        action(channel)
        channel.close()

    def refused(self, action: Callable[[Any], object]) -> None:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as exc:
            action(self.channel())
        assert exc.value.reply_code == REFUSED, exc.value

    def close(self) -> None:
        self.connection.close()


def publish(exchange: str, key: str) -> Callable[[Any], object]:
    return lambda ch: ch.basic_publish(exchange, key, b"x", mandatory=False)


def get(queue: str) -> Callable[[Any], object]:
    return lambda ch: ch.basic_get(queue, auto_ack=False)


def bind(queue: str, exchange: str, key: str) -> Callable[[Any], object]:
    return lambda ch: ch.queue_bind(queue, exchange, routing_key=key)


def test_a_tenant_user_reaches_its_own_names_and_nothing_of_another_tenant(
    settings: Settings, bus: Tenant, other: Tenant
) -> None:
    a, b = bus.slug, other.slug
    client = Client(bus_transport(settings).url(bus, "agreements"))
    try:
        # its own: publish its routing keys, read its queues, declare and bind under its prefix
        client.allowed(publish(topology.EVENTS_EXCHANGE, f"{a}.jobcenter.status.query"))
        client.allowed(get(f"{a}.jobcenter.inbox"))
        client.allowed(lambda ch: ch.queue_declare(f"{a}.scratch", auto_delete=True))
        client.allowed(bind(f"{a}.scratch", topology.EVENTS_EXCHANGE, f"{a}.scratch.#"))
        # the other tenant's: read, publish, bind, declare, dead-letter, answer as its agency
        client.refused(get(f"{b}.jobcenter.inbox"))
        client.refused(get(f"{b}.agreements.dead"))
        client.refused(publish(topology.EVENTS_EXCHANGE, f"{b}.jobcenter.status.query"))
        client.refused(publish("", f"{b}.jobcenter.inbox"))  # the default exchange
        client.refused(publish(topology.DEAD_EXCHANGE, f"{b}.jobcenter.inbox"))
        client.refused(publish(topology.AGENCY_EXCHANGE, f"{b}.agency.jobcenter.answers"))
        client.refused(bind(f"{a}.scratch", topology.EVENTS_EXCHANGE, f"{b}.#"))
        client.refused(bind(f"{a}.scratch", topology.EVENTS_EXCHANGE, "#"))
        client.refused(bind(f"{b}.jobcenter.inbox", topology.EVENTS_EXCHANGE, f"{a}.#"))
        client.refused(lambda ch: ch.queue_declare(f"{b}.sneaky", auto_delete=True))
        client.refused(lambda ch: ch.queue_delete(f"{b}.jobcenter.inbox"))
    finally:
        client.close()


def test_an_agency_user_reads_its_referrals_and_sends_only_its_answers(
    settings: Settings, bus: Tenant, other: Tenant
) -> None:
    pair = topology.AgencyPair("jobcenter", bus.slug)
    client = Client(bus_transport(settings).url(bus, pair.user_party))
    try:
        client.allowed(get(pair.referrals))
        client.allowed(publish(topology.AGENCY_EXCHANGE, pair.answers))
        client.refused(get(pair.answers))
        client.refused(get(f"{bus.slug}.jobcenter.inbox"))
        client.refused(get(topology.AgencyPair("jobcenter", other.slug).referrals))
        client.refused(publish(topology.AGENCY_EXCHANGE, pair.referrals))  # no forged referrals
        client.refused(
            publish(topology.AGENCY_EXCHANGE, topology.AgencyPair("jobcenter", other.slug).answers)
        )
        client.refused(publish(topology.EVENTS_EXCHANGE, f"{bus.slug}.agreements.x"))
        client.refused(lambda ch: ch.queue_declare(f"{bus.slug}.sneaky", auto_delete=True))
    finally:
        client.close()


def test_worker_users_serve_every_tenant_within_their_role(
    settings: Settings, bus: Tenant, other: Tenant
) -> None:
    creds = broker_admin.provision_workers(settings)
    assert broker_admin.provision_workers(settings) == creds  # idempotent: same passwords
    transport = bus_transport(settings)
    assert isinstance(transport, RabbitMQTransport)
    agreements = Client(transport.worker_url("agreements"))
    web = Client(transport.worker_url("web"))
    try:
        for tenant in (bus, other):
            agreements.allowed(get(f"{tenant.slug}.agreements.inbox"))
            agreements.allowed(publish(topology.DEAD_EXCHANGE, f"{tenant.slug}.agreements.inbox"))
            web.allowed(publish(topology.EVENTS_EXCHANGE, f"{tenant.slug}.jobcenter.x"))
        agreements.refused(get(f"{bus.slug}.jobcenter.inbox"))
        agreements.refused(lambda ch: ch.queue_declare(f"{bus.slug}.sneaky", auto_delete=True))
        web.refused(get(f"{bus.slug}.agreements.inbox"))
        web.refused(publish(topology.AGENCY_EXCHANGE, f"{bus.slug}.agency.jobcenter.referrals"))
    finally:
        agreements.close()
        web.close()
