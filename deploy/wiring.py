"""The composition root: the one place that chooses adapters and wires services to them.

Nothing below ``deploy/`` decides which bus transport, which app factory or which database a
piece of the platform uses: it is handed them from here. ``integra up``, the worker
processes, the CLI, the benchmarks and the tests all build the platform through these
functions, so a test cannot pass with wiring that the real start-up does not use.
"""

from __future__ import annotations

from functools import partial

from deploy.observability import OutboxLagCollector, Readiness
from gateway.dispatch import TenantDispatcher
from messaging.transports.base import Transport
from messaging.transports.embedded import EmbeddedTransport
from messaging.transports.rabbitmq import RabbitMQTransport
from services.agreements.app import create_app, dispose_app
from services.agreements.context import DemoMark
from tenants.registry import Registry
from tenants.settings import Settings


def tenant_dispatcher(
    settings: Settings, registry: Registry, *, demo: DemoMark | None = None, **options: object
) -> TenantDispatcher:
    """The gateway serving every tenant of ``registry`` with the agreement service's apps,
    with readiness (database and broker) and the outbox lag per tenant on /metrics;
    ``demo``: their portals show a "Demo" banner (why: simulated partners, or demo cases)."""
    options.setdefault("readiness", Readiness(settings, registry))
    options.setdefault("scrape_collectors", [OutboxLagCollector(settings, registry)])
    return TenantDispatcher(
        settings,
        registry,
        partial(create_app, demo=demo) if demo else create_app,
        dispose_app=dispose_app,
        **options,  # type: ignore[arg-type]
    )


def bus_transport(settings: Settings) -> Transport:
    """The bus every service of this installation talks over: RabbitMQ when
    ``INTEGRA_BROKER_URL`` is set, otherwise the durable embedded bus under ``var/bus``.
    The only place in the code base that makes this choice."""
    if settings.broker_url:
        return RabbitMQTransport(settings)
    return EmbeddedTransport(settings)
