"""The connectors as the composition root sees them: ``provision`` their databases, build
their channels, and run each connector with its consumer, relay and delivery loop.

``integra connector run <tenant> <kind>`` runs one connector alone; ``integra up`` runs all of
them (and the partner simulators) in its one process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Engine

from messaging import store as bus_store
from messaging.consumer import MessageConsumer
from messaging.relay import OutboxRelay
from messaging.runtime import BusRuntime
from messaging.transports.base import Transport
from tenants.databases import create_tenant_engine, drop_database, ensure_database
from tenants.registry import PartnerEntry, Tenant
from tenants.settings import Settings
from tenants.vocabulary import SERVICE_CODES

from . import store
from .answer_queue import AnswerQueueConsumer
from .channels.amqp import AmqpChannel
from .channels.registry import build_channel, channel_spec
from .connector import Connector

log = logging.getLogger(__name__)


def connector_engine(settings: Settings, tenant: Tenant, kind: str, pool_size: int = 3) -> Engine:
    return create_tenant_engine(settings, tenant, pool_size=pool_size, service=SERVICE_CODES[kind])


def provision(settings: Settings, tenant: Tenant) -> None:
    """Every connector of the tenant: its own database with its tables and the bus's outbox
    and inbox (idempotent)."""
    for partner in tenant.partners:
        provision_connector(settings, tenant, partner.kind)


def deprovision(settings: Settings, tenant: Tenant) -> None:
    """Drop every connector database of the tenant."""
    for partner in tenant.partners:
        drop_database(settings, tenant, service=SERVICE_CODES[partner.kind])


def provision_connector(settings: Settings, tenant: Tenant, kind: str) -> None:
    """The connector's own database with its tables and the bus's outbox and inbox."""
    ensure_database(settings, tenant, service=SERVICE_CODES[kind])
    engine = connector_engine(settings, tenant, kind, pool_size=1)
    try:
        with engine.begin() as connection:
            store.upgrade(connection)
        with engine.begin() as connection:
            bus_store.upgrade(connection)
    finally:
        engine.dispose()


class ConnectorRuntime:
    """One connector with its consumer (bus → connector), relay (connector → bus) and
    delivery loop (connector ↔ agency), each in its own thread."""

    def __init__(
        self,
        transport: Transport,
        tenant: Tenant,
        partner: PartnerEntry,
        *,
        pool_size: int = 3,
        **connector_options: Any,
    ) -> None:
        """``partner`` is the registry entry the channel is built from (a simulated agency
        may stand in for the real one: see ``simulator_adapters``); ``connector_options`` go to
        :class:`Connector` (``delay_threshold``, ``clock``)."""
        settings = transport.settings
        self.tenant = tenant
        self.partner = partner
        self.engine = connector_engine(settings, tenant, partner.kind, pool_size=pool_size)
        self.channel = build_channel(transport, tenant, partner)
        self.connector = Connector(
            settings, tenant, partner, self.engine, self.channel, **connector_options
        )
        self.consumer = MessageConsumer(transport, tenant, partner.kind, self.engine)
        self.connector.register_handlers(self.consumer)
        self.relay = OutboxRelay.for_tenant(transport, tenant, self.engine, party=partner.kind)
        self.threads: list[threading.Thread] = []
        prefix = f"{partner.kind}"
        self.keys = {
            "relay": (tenant.slug, f"{prefix}.relay"),
            "inbox": (tenant.slug, f"{prefix}.inbox"),
            "pass": (tenant.slug, f"{prefix}.deliveries"),
        }
        self.runtime: BusRuntime | None = None

    @property
    def has_callback(self) -> bool:
        """Whether the agency pushes its answers to a callback endpoint (webhook) rather than
        the connector pulling them from the channel."""
        return channel_spec(self.partner.channel).callback_app is not None

    def callback_app(self) -> Any:
        """The WSGI app where the agency answers (mounted at /t/<tenant>/agency/<kind>);
        ValueError for a channel without one (see :attr:`has_callback`)."""
        make_app = channel_spec(self.partner.channel).callback_app
        if make_app is None:
            raise ValueError(f"the {self.partner.channel} channel has no callback endpoint")
        return make_app(
            self.connector.settings, self.tenant.slug, self.partner.kind, self.connector.intake
        )

    def start(self) -> None:
        self.threads = [
            self.consumer.start_thread(),
            _thread(self.relay.run, f"relay-{self.tenant.slug}-{self.partner.kind}"),
            self.connector.start_thread(),
        ]

    def attach(
        self,
        runtime: BusRuntime,
        *,
        signals: Iterable[str] = (),
        on_delivered: Callable[[], None] | None = None,
    ) -> None:
        """Run on the process's shared workers instead of threads of its own: the relay and
        the consumer, and the delivery pass, woken by a commit that queued something for the
        agency, by ``signals`` (e.g. a simulated agency answered), by changes of the files
        its channel reads (XML exchange folder, embedded bus) and by its retry timer.
        ``on_delivered`` is called after a pass in which the agency took something."""
        connector = self.connector

        def deliveries() -> float | None:
            delay = connector.run_pass()
            if connector.delivered and on_delivered is not None:
                on_delivered()
            if delay is None:
                self.channel.close()  # an idle connector holds no connection to its agency
            return delay

        self.runtime = runtime
        runtime.add_relay(self.keys["relay"], self.relay)
        runtime.add_consumer(self.keys["inbox"], self.consumer)
        self.connector.wake_event.hooks.append(runtime.waker(self.keys["pass"]))
        runtime.add_job(
            self.keys["pass"],
            deliveries,
            signals=signals,
            watch=watched_paths(self.channel),
            nudge=True,  # status queries of quiet referrals, on the shared slow sweep
        )
        if runtime.transport.name == "rabbitmq" and isinstance(self.channel, AmqpChannel):
            # the agency's answers are pushed over the shared connection, not polled
            answers = build_channel(runtime.transport, self.tenant, self.partner)
            assert isinstance(answers, AmqpChannel)
            self.keys["answers"] = (self.tenant.slug, f"{self.partner.kind}.answers")
            consumer = AnswerQueueConsumer(self.tenant, connector, answers)
            # its queue is the agency's answer queue, not an inbox spec: the shared pika
            # consumer reads only its name
            runtime.add_consumer(self.keys["answers"], consumer)  # type: ignore[arg-type]

    def signal_stop(self) -> None:
        self.connector.stop()
        self.consumer.stop()
        self.relay.stop()
        if self.runtime is not None:
            for key in self.keys.values():
                self.runtime.remove(key)

    def stop(self, timeout: float = 5.0) -> None:
        self.signal_stop()
        for thread in self.threads:
            thread.join(timeout)
        self.channel.close()
        self.engine.dispose()


def watched_paths(channel: Any) -> list[tuple[str, float]]:
    """Files another process writes that the channel reads: the XML exchange folder's
    incoming directory (looked at again once a new file has settled), the embedded bus file
    for AMQP answers."""
    folder = getattr(channel, "folder", None)
    if folder is not None:
        return [(str(folder.incoming), folder.settle_seconds + 0.1)]
    url = str(getattr(channel, "url", ""))
    if url.startswith("sqla+sqlite:///"):
        return [(url.split(":///", 1)[1], 0.0)]
    return []


def _thread(target: Any, name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def start(
    transport: Transport, tenant: Tenant, partner: PartnerEntry, **options: Any
) -> ConnectorRuntime:
    """One connector of ``tenant``, running (consumer, relay and delivery loop)."""
    runtime = ConnectorRuntime(transport, tenant, partner, **options)
    runtime.start()
    return runtime
