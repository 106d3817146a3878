"""The bus topology, declared in this one module: names, permissions and declarations.

All tenants share one virtual host (``INTEGRA_BROKER_VHOST``, default ``integra``); every
queue name and routing key starts with the tenant's slug, so a regular expression ``^<slug>\\.``
draws the border between tenants and the broker enforces it (docs/scale-broker.md has the
figures that chose this over a vhost per tenant):

- a topic exchange ``integra.events`` routing on ``<slug>.<recipient>.<type>``;
- a topic exchange ``integra.dead`` for dead letters (routing key: the queue they came from);
- for each consuming party a classic durable queue ``<slug>.<party>.inbox`` bound to
  ``<slug>.<party>.#`` and its dead-letter queue ``<slug>.<party>.dead``. Classic, not quorum:
  a quorum queue is a Raft group with its own log and processes, and 1,600 of them would not
  stop within ten minutes on one node. Poison messages, which a quorum queue's delivery limit
  caught, are counted by the consumer in the bus store (``delivery_attempts``) instead;
- a topic exchange ``integra.agency`` for partner agencies on the AMQP channel, with a queue
  pair ``<slug>.agency.<kind>.referrals`` and ``<slug>.agency.<kind>.answers``, each bound to
  its own name.

Broker users (created by ``messaging.broker_admin``), all named under the vhost so that two
installations or test runs on one broker never share one:

- one per tenant, ``<vhost>.<slug>``: configure, write and read ``^<slug>\\.`` (plus writing to
  the shared exchanges), topic permissions ``^<slug>\\.`` on each shared exchange;
- one per agency on the AMQP channel, ``<vhost>.<slug>.agency-<kind>``: reads its referrals
  queue and publishes only its own answers routing key;
- one per platform worker role, ``<vhost>.worker_<role>``, which serves every tenant.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tenants.registry import Tenant
from tenants.vocabulary import AGENCY_KINDS, Channel

EVENTS_EXCHANGE = "integra.events"
DEAD_EXCHANGE = "integra.dead"
AGENCY_EXCHANGE = "integra.agency"
SHARED_EXCHANGES = (EVENTS_EXCHANGE, DEAD_EXCHANGE, AGENCY_EXCHANGE)
AGREEMENTS = "agreements"
#: Deliveries of one message to one consumer before it is dead-lettered as poison
#: (``delivery_limit``): its handler, or the process, died every time.
DELIVERY_LIMIT = 5
#: Every queue is a classic durable queue (see the module docstring).
QUEUE_ARGUMENTS: dict[str, Any] = {"x-queue-type": "classic"}


def routing_key(tenant: str, recipient: str, message_type: str) -> str:
    """``<slug>.<recipient>.<type>``: the topic exchange routes on tenant and recipient."""
    return f"{tenant}.{recipient}.{message_type}"


@dataclass(frozen=True)
class QueueSpec:
    """A consumer's queue (of tenant ``tenant``, a slug): what it binds, where dead letters go."""

    tenant: str
    party: str

    @property
    def name(self) -> str:
        return f"{self.tenant}.{self.party}.inbox"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.tenant}.{self.party}.dead"

    @property
    def binding_key(self) -> str:
        return f"{self.tenant}.{self.party}.#"

    @property
    def arguments(self) -> dict[str, Any]:
        return {
            **QUEUE_ARGUMENTS,
            "x-dead-letter-exchange": DEAD_EXCHANGE,
            "x-dead-letter-routing-key": self.name,
        }

    dead_letter_arguments = QUEUE_ARGUMENTS


def parties(tenant: Tenant) -> list[str]:
    """Consuming parties: the agreement service and one connector per partner agency kind."""
    return [AGREEMENTS, *sorted({p.kind for p in tenant.partners})]


def queues(tenant: Tenant) -> list[QueueSpec]:
    return [QueueSpec(tenant.slug, p) for p in parties(tenant)]


@dataclass(frozen=True)
class AgencyPair:
    """The queue pair of a partner agency on the AMQP channel, on ``integra.agency``.

    The connector publishes with routing key ``referrals`` (the queue the agency reads); the
    agency publishes with routing key ``answers`` (the queue the connector reads).
    """

    kind: str
    tenant: str

    @property
    def referrals(self) -> str:
        return f"{self.tenant}.agency.{self.kind}.referrals"

    @property
    def answers(self) -> str:
        return f"{self.tenant}.agency.{self.kind}.answers"

    @property
    def to_agency(self) -> str:
        """The exchange the connector publishes to (the routing key says which agency)."""
        return AGENCY_EXCHANGE

    @property
    def from_agency(self) -> str:
        """The exchange the agency publishes its answers to."""
        return AGENCY_EXCHANGE

    @property
    def user_party(self) -> str:
        """The party name of the agency's own broker user."""
        return agency_party(self.kind)

    arguments = QUEUE_ARGUMENTS


def agency_party(kind: str) -> str:
    return f"agency-{kind}"


def agency_pairs(tenant: Tenant) -> list[AgencyPair]:
    """Partners reached over the AMQP channel get a queue pair."""
    return [AgencyPair(p.kind, tenant.slug) for p in tenant.partners if p.channel == Channel.AMQP]


def broker_parties(tenant: Tenant) -> list[str]:
    """Every party that connects as some user of this tenant: the consuming services and, for
    each agency on the AMQP channel, the agency itself."""
    return [*parties(tenant), *(pair.user_party for pair in agency_pairs(tenant))]


# --- broker users and their permissions --------------------------------------------------------

#: Platform worker roles (one broker user each, serving every tenant), and what each consumes.
WORKER_ROLES = ("web", "relay", "agreements", "connectors")


def tenant_user(vhost: str, tenant: Tenant) -> str:
    return f"{vhost}.{tenant.slug}"


def service_user(vhost: str, tenant: Tenant, party: str) -> str:
    """The broker user ``party`` of ``tenant`` connects as: the agency's own user for an agency,
    otherwise the tenant's user."""
    if party.startswith("agency-"):
        return f"{vhost}.{tenant.slug}.{party}"
    return tenant_user(vhost, tenant)


def worker_user(vhost: str, role: str) -> str:
    """``<vhost>.worker_<role>`` (an underscore never occurs in a slug: no tenant clashes)."""
    if role not in WORKER_ROLES:
        raise ValueError(f"unknown worker role {role!r}; known: {', '.join(WORKER_ROLES)}")
    return f"{vhost}.worker_{role}"


def _alternatives(patterns: Iterable[str]) -> str:
    return "^(" + "|".join(patterns) + ")$"


def _exchanges(*names: str) -> list[str]:
    return [re.escape(n) for n in names]


@dataclass(frozen=True)
class Permissions:
    """Resource permissions (regular expressions) and topic permissions per exchange."""

    configure: str
    write: str
    read: str
    topics: dict[str, tuple[str, str]]  # exchange -> (write, read) routing-key patterns

    def resource(self) -> dict[str, str]:
        return {"configure": self.configure, "write": self.write, "read": self.read}


NOTHING = "^$"


def tenant_permissions(tenant: Tenant) -> Permissions:
    """Everything named ``<slug>.…``, and the shared exchanges only with ``<slug>.…`` keys.

    Reading an exchange is what binding a queue to it needs; the topic permissions then hold
    the binding key to the tenant's own prefix, as they hold the routing keys it publishes.
    """
    own = re.escape(tenant.slug) + r"\."
    shared = _exchanges(*SHARED_EXCHANGES)
    return Permissions(
        configure=f"^{own}",
        write=_alternatives([own + ".*", *shared]),
        read=_alternatives([own + ".*", *shared]),
        topics={exchange: (f"^{own}", f"^{own}") for exchange in SHARED_EXCHANGES},
    )


def agency_permissions(pair: AgencyPair) -> Permissions:
    """The agency reads its referrals queue and publishes only its own answers."""
    return Permissions(
        configure=NOTHING,
        write=_alternatives(_exchanges(AGENCY_EXCHANGE)),
        read=_alternatives([re.escape(pair.referrals)]),
        topics={AGENCY_EXCHANGE: (_alternatives([re.escape(pair.answers)]), NOTHING)},
    )


def worker_permissions(role: str) -> Permissions:
    """A platform worker serves every tenant: it declares nothing, reads only the queues of its
    role and publishes to the shared exchanges (any tenant's keys: it is the platform)."""
    slug = r"[a-z][a-z0-9-]*"
    connector_kinds = "(" + "|".join(re.escape(k) for k in AGENCY_KINDS) + ")"
    reads = {
        "web": [],
        "relay": [],
        "agreements": [rf"{slug}\.{AGREEMENTS}\.inbox"],
        "connectors": [rf"{slug}\.{connector_kinds}\.inbox", rf"{slug}\.agency\.[a-z-]+\.answers"],
    }[role]
    writes = {
        "web": [EVENTS_EXCHANGE],
        "relay": [EVENTS_EXCHANGE, AGENCY_EXCHANGE],
        "agreements": [EVENTS_EXCHANGE, DEAD_EXCHANGE],
        "connectors": [*SHARED_EXCHANGES],
    }[role]
    return Permissions(
        configure=NOTHING,
        write=_alternatives(_exchanges(*writes)),
        read=_alternatives(reads) if reads else NOTHING,
        topics={},
    )


def legacy_queue_names(tenant: Tenant) -> dict[str, str]:
    """Queue names of the former vhost-per-tenant topology -> their queue in the shared vhost
    (``integra bus migrate-topology`` moves what is left in the old ones)."""
    names: dict[str, str] = {}
    for spec in queues(tenant):
        names[f"{spec.party}.inbox"] = spec.name
        names[f"{spec.party}.dead"] = spec.dead_letter_queue
    for pair in agency_pairs(tenant):
        names[f"agency.{pair.kind}.referrals"] = pair.referrals
        names[f"agency.{pair.kind}.answers"] = pair.answers
    return names


def legacy_users(tenant: Tenant) -> list[str]:
    """Broker users of the former topology (``<slug>.<party>``), removed after migration."""
    return [f"{tenant.slug}.{party}" for party in broker_parties(tenant)]


# --- declaration over AMQP (pika) --------------------------------------------------------------


def declare_exchanges_pika(channel: Any) -> None:
    for exchange in SHARED_EXCHANGES:
        channel.exchange_declare(exchange, exchange_type="topic", durable=True)


def declare_pika(channel: Any, tenant: Tenant) -> None:
    """Declare exchanges, queues and bindings on a pika BlockingChannel (idempotent)."""
    declare_exchanges_pika(channel)
    for spec in queues(tenant):
        channel.queue_declare(spec.name, durable=True, arguments=spec.arguments)
        channel.queue_bind(spec.name, EVENTS_EXCHANGE, routing_key=spec.binding_key)
        channel.queue_declare(
            spec.dead_letter_queue, durable=True, arguments=spec.dead_letter_arguments
        )
        channel.queue_bind(spec.dead_letter_queue, DEAD_EXCHANGE, routing_key=spec.name)
    for pair in agency_pairs(tenant):
        for queue in (pair.referrals, pair.answers):
            channel.queue_declare(queue, durable=True, arguments=pair.arguments)
            channel.queue_bind(queue, AGENCY_EXCHANGE, routing_key=queue)


def tenant_queue_names(tenant: Tenant) -> list[str]:
    """Every queue of the tenant in the shared vhost."""
    names = [n for spec in queues(tenant) for n in (spec.name, spec.dead_letter_queue)]
    return names + [n for pair in agency_pairs(tenant) for n in (pair.referrals, pair.answers)]


# --- declaration on the embedded transport (kombu) ---------------------------------------------


def _agency_pair_queues(pair: AgencyPair) -> list[Any]:
    from kombu import Exchange, Queue

    exchange = Exchange(AGENCY_EXCHANGE, type="topic", durable=True)
    return [
        Queue(queue, exchange, routing_key=queue, durable=True)
        for queue in (pair.referrals, pair.answers)
    ]


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


def declare_agency_pair_kombu(connection: Any, kind: str, tenant: str) -> None:
    """Declare one agency's queue pair on a kombu connection (embedded bus clients)."""
    channel = connection.default_channel
    for queue in _agency_pair_queues(AgencyPair(kind, tenant)):
        queue.bind(channel).declare()


def declare_kombu(connection: Any, tenant: Tenant) -> None:
    """Declare the same topology on a kombu connection (embedded bus)."""
    events, dead, entities = kombu_entities(tenant)
    channel = connection.default_channel
    events.bind(channel).declare()
    dead.bind(channel).declare()
    for queue in entities:
        queue.bind(channel).declare()  # declares its exchange too
