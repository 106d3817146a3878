"""The bus topology, declared in this one module: names and declarations, nothing else.

Per tenant: its own virtual host; a topic exchange ``integra.events`` routing on
``<recipient>.<type>``; a dead-letter exchange ``integra.dead``; for each consuming party a
quorum queue ``<party>.inbox`` with a delivery limit and its dead-letter queue
``<party>.dead``; for each partner agency on the AMQP channel a queue pair. Every declaration
is idempotent (same arguments each time).

One broker user per service and tenant (``<tenant>.<party>``), whose permissions reach only
its own vhost: it may publish to the two exchanges and read only its own queue; it may not
declare anything. Creating them is the broker's administration (``messaging.broker_admin``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tenants.registry import Tenant
from tenants.vocabulary import Channel

EVENTS_EXCHANGE = "integra.events"
DEAD_EXCHANGE = "integra.dead"
AGREEMENTS = "agreements"
#: Redeliveries before a quorum queue dead-letters a message whose consumer keeps dying.
DELIVERY_LIMIT = 5


@dataclass(frozen=True)
class QueueSpec:
    """A consumer's queue: what it binds and where its dead letters go."""

    party: str

    @property
    def name(self) -> str:
        return f"{self.party}.inbox"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.party}.dead"

    @property
    def binding_key(self) -> str:
        return f"{self.party}.#"

    @property
    def arguments(self) -> dict[str, Any]:
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": DEAD_EXCHANGE,
            "x-dead-letter-routing-key": self.name,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }

    dead_letter_arguments = {"x-queue-type": "quorum"}


def parties(tenant: Tenant) -> list[str]:
    """Consuming parties: the agreement service and one connector per partner agency kind."""
    return [AGREEMENTS, *sorted({p.kind for p in tenant.partners})]


def queues(tenant: Tenant) -> list[QueueSpec]:
    return [QueueSpec(p) for p in parties(tenant)]


@dataclass(frozen=True)
class AgencyPair:
    """The queue pair of a partner agency on the AMQP channel (in the tenant's vhost).

    The connector publishes to ``to_agency`` (bound to ``referrals``, which the agency reads);
    the agency publishes to ``from_agency`` (bound to ``answers``, which the connector reads).
    """

    kind: str

    @property
    def referrals(self) -> str:
        return f"agency.{self.kind}.referrals"

    @property
    def answers(self) -> str:
        return f"agency.{self.kind}.answers"

    @property
    def to_agency(self) -> str:
        return f"agency.{self.kind}.to-agency"

    @property
    def from_agency(self) -> str:
        return f"agency.{self.kind}.from-agency"

    @property
    def user_party(self) -> str:
        """The agency's broker user is ``<tenant>.agency-<kind>``."""
        return f"agency-{self.kind}"

    arguments = {"x-queue-type": "quorum", "x-delivery-limit": DELIVERY_LIMIT}


def agency_pairs(tenant: Tenant) -> list[AgencyPair]:
    """Partners reached over the AMQP channel get a queue pair."""
    return [AgencyPair(p.kind) for p in tenant.partners if p.channel == Channel.AMQP]


def service_user(tenant: Tenant, party: str) -> str:
    return f"{tenant.slug}.{party}"


def _alternatives(names: Iterable[str]) -> str:
    return "^(" + "|".join(re.escape(n) for n in names) + ")$"


def service_permissions(party: str, tenant: Tenant | None = None) -> dict[str, str]:
    """Configure nothing, publish to the tenant's exchanges, read only its own queue.

    A connector whose agency uses the AMQP channel may also publish to the agency's
    ``to-agency`` exchange and read its ``answers`` queue; an agency's own user may only read
    its ``referrals`` queue and publish to its ``from-agency`` exchange.
    """
    pairs = {pair.kind: pair for pair in agency_pairs(tenant)} if tenant is not None else {}
    agency = next((p for p in pairs.values() if p.user_party == party), None)
    if agency is not None:
        return {
            "configure": "^$",
            "write": _alternatives([agency.from_agency]),
            "read": _alternatives([agency.referrals]),
        }
    write = [EVENTS_EXCHANGE, DEAD_EXCHANGE]
    read = [QueueSpec(party).name]
    if party in pairs:
        write.append(pairs[party].to_agency)
        read.append(pairs[party].answers)
    return {"configure": "^$", "write": _alternatives(write), "read": _alternatives(read)}


# --- declaration over AMQP (pika) --------------------------------------------------------------


def declare_pika(channel: Any, tenant: Tenant) -> None:
    """Declare exchanges, queues and bindings on a pika BlockingChannel (idempotent)."""
    channel.exchange_declare(EVENTS_EXCHANGE, exchange_type="topic", durable=True)
    channel.exchange_declare(DEAD_EXCHANGE, exchange_type="topic", durable=True)
    for spec in queues(tenant):
        channel.queue_declare(spec.name, durable=True, arguments=spec.arguments)
        channel.queue_bind(spec.name, EVENTS_EXCHANGE, routing_key=spec.binding_key)
        channel.queue_declare(
            spec.dead_letter_queue, durable=True, arguments=spec.dead_letter_arguments
        )
        channel.queue_bind(spec.dead_letter_queue, DEAD_EXCHANGE, routing_key=spec.name)
    for pair in agency_pairs(tenant):
        for exchange, queue in ((pair.to_agency, pair.referrals), (pair.from_agency, pair.answers)):
            channel.exchange_declare(exchange, exchange_type="direct", durable=True)
            channel.queue_declare(queue, durable=True, arguments=pair.arguments)
            channel.queue_bind(queue, exchange, routing_key=queue)


# --- declaration on the embedded transport (kombu) ---------------------------------------------


def _agency_pair_queues(pair: AgencyPair) -> list[Any]:
    from kombu import Exchange, Queue

    return [
        Queue(queue, Exchange(exchange, type="direct", durable=True), routing_key=queue,
              durable=True)
        for exchange, queue in ((pair.to_agency, pair.referrals), (pair.from_agency, pair.answers))
    ]  # fmt: skip


def kombu_entities(tenant: Tenant) -> tuple[Any, Any, list[Any]]:
    """kombu Exchange objects and Queue objects (inbox and dead-letter) of a tenant."""
    from kombu import Exchange, Queue

    events = Exchange(EVENTS_EXCHANGE, type="topic", durable=True)
    dead = Exchange(DEAD_EXCHANGE, type="topic", durable=True)
    entities: list[Any] = []
    for spec in queues(tenant):
        entities.append(Queue(spec.name, events, routing_key=spec.binding_key, durable=True))
        entities.append(Queue(spec.dead_letter_queue, dead, routing_key=spec.name, durable=True))
    for pair in agency_pairs(tenant):
        entities.extend(_agency_pair_queues(pair))
    return events, dead, entities


def declare_agency_pair_kombu(connection: Any, kind: str) -> None:
    """Declare one agency's queue pair on a kombu connection (embedded bus clients)."""
    channel = connection.default_channel
    for queue in _agency_pair_queues(AgencyPair(kind)):
        queue.bind(channel).declare()


def declare_kombu(connection: Any, tenant: Tenant) -> None:
    """Declare the same topology on a kombu connection (embedded bus)."""
    events, dead, entities = kombu_entities(tenant)
    channel = connection.default_channel
    events.bind(channel).declare()
    dead.bind(channel).declare()
    for queue in entities:
        queue.bind(channel).declare()  # declares its exchange too


def broker_parties(tenant: Tenant) -> list[str]:
    """Every party with a broker user of its own: the consuming services and, for each agency
    on the AMQP channel, the agency itself."""
    return [*parties(tenant), *(pair.user_party for pair in agency_pairs(tenant))]
