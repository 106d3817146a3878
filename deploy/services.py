"""The background services of a tenant: the agreement service's relay and consumer, one
connector per partner agency, and (demo, tests) a simulator playing each agency.

All of them are jobs of one :class:`~messaging.runtime.BusRuntime` per process (a bounded pool
of threads and one timer), whatever the number of tenants; ``integra up`` and the worker
processes pass theirs, a test that starts one tenant alone gets one of its own. Webhook
endpoints (connector callbacks, simulated agencies) are mounted on the gateway, so one HTTP
port serves everything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import click

from deploy.wiring import bus_transport
from gateway.dispatch import TenantDispatcher
from messaging import wakeups
from messaging.runtime import BusRuntime
from messaging.signing import BusKeyring
from messaging.transports.base import Transport
from services.agreements import runtime as agreements
from services.agreements.runtime import AgreementBus
from services.connectors import runtime as connectors
from services.connectors.runtime import ConnectorRuntime
from services.connectors.simulator_adapters import (
    SimulationSite,
    SimulatorAdapter,
    simulate_agency,
)
from services.connectors.simulators import SimulatedAgency, SimulationRules
from tenants.databases import create_tenant_engine
from tenants.demo_overlay import apply_overlay, overlay_path
from tenants.registry import PartnerEntry, Registry, Tenant
from tenants.settings import Settings
from tenants.vocabulary import Channel

log = logging.getLogger(__name__)


@dataclass
class TenantServices:
    transport: Transport
    tenant: Tenant
    base_url: str  # where the gateway answers, e.g. http://127.0.0.1:8000
    simulate: bool = True
    rules: dict[str, SimulationRules] = field(default_factory=dict)
    delay_threshold: timedelta = timedelta(minutes=5)
    agreement_bus: AgreementBus | None = None
    connectors: dict[str, ConnectorRuntime] = field(default_factory=dict)
    simulators: dict[str, SimulatorAdapter] = field(default_factory=dict)
    agencies: dict[str, SimulatedAgency] = field(default_factory=dict)
    engine: Any = None
    runtime: BusRuntime | None = None
    #: Which services run here: ``agreements``, ``connectors`` (with the simulators), or both.
    roles: tuple[str, ...] = ("agreements", "connectors")
    _own_runtime: bool = False
    _simulator_keys: list[Any] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return self.transport.settings

    def _simulator(self, partner: PartnerEntry, keys: BusKeyring) -> SimulatorAdapter:
        agency = SimulatedAgency(
            partner.kind, self.rules.get(partner.kind) or SimulationRules.for_kind(partner.kind)
        )
        self.agencies[partner.kind] = agency
        site = SimulationSite(self.transport, self.tenant, partner, keys, self.base_url)
        return simulate_agency(site, agency)

    def start(self, dispatcher: TenantDispatcher | None) -> None:
        slug = self.tenant.slug
        if self.runtime is None:
            self.runtime = BusRuntime(self.transport).start()
            self._own_runtime = True
        runtime = self.runtime
        # no pool of files per tenant on SQLite: opened per transaction (PostgreSQL: shared)
        self.engine = create_tenant_engine(self.settings, self.tenant, pool_size=0)
        if "agreements" in self.roles:
            self.agreement_bus = agreements.start(runtime, self.tenant, self.engine)
        if "connectors" not in self.roles:
            return
        keys = BusKeyring.load(self.settings, slug)
        for partner in self.tenant.partners:
            reached_as = partner
            answered = f"agency-answered:{slug}:{partner.kind}"
            if self.simulate:
                simulator = self._simulator(partner, keys)
                self.simulators[partner.kind] = simulator
                reached_as = simulator.partner  # e.g. the simulator's endpoint for a webhook
                if simulator.endpoint is not None and dispatcher is not None:
                    dispatcher.mount(simulator.endpoint.path, simulator.endpoint.app)
            runtime_ = connectors.ConnectorRuntime(
                self.transport,
                self.tenant,
                reached_as,
                pool_size=0,
                delay_threshold=self.delay_threshold,
            )
            simulator_key = (slug, f"{partner.kind}.simulator")
            runtime_.attach(
                runtime,
                signals=[answered],
                on_delivered=runtime.waker(simulator_key) if self.simulate else None,
            )
            self.connectors[partner.kind] = runtime_
            if runtime_.has_callback and dispatcher is not None:
                dispatcher.mount(
                    f"/t/{slug}/agency/{partner.kind}",
                    runtime_.callback_app(),
                    script_name=f"/t/{slug}",
                )
        for kind, simulator in self.simulators.items():
            self._run_simulator(kind, simulator)

    def _run_simulator(self, kind: str, simulator: SimulatorAdapter) -> None:
        """The simulated agency as a job: woken when it schedules an answer or the connector
        delivered to it, again when its next answer is due; what it answers on a pull
        channel (XML folder, AMQP queue) wakes the connector's pass."""
        assert self.runtime is not None
        runtime = self.runtime
        key = (self.tenant.slug, f"{kind}.simulator")
        answered = f"agency-answered:{self.tenant.slug}:{kind}"
        simulator.agency.wake = runtime.waker(key)

        def job() -> float | None:
            moved = simulator.pump_once()
            if moved:
                wakeups.signal(answered)
                return 0.0
            return simulator.agency.next_due()

        runtime.add_job(key, job)
        self._simulator_keys.append(key)

    def signal_stop(self) -> None:
        """Ask everything to stop without waiting (stopping many tenants at once)."""
        for simulator in self.simulators.values():
            simulator.stop()
        for runtime in self.connectors.values():
            runtime.signal_stop()
        if self.agreement_bus is not None:
            self.agreement_bus.signal_stop()
        if self.runtime is not None:
            for key in self._simulator_keys:
                self.runtime.remove(key)

    def stop(self) -> None:
        self.signal_stop()
        for runtime in self.connectors.values():
            runtime.stop()
        if self.agreement_bus is not None:
            self.agreement_bus.stop()
        if self._own_runtime and self.runtime is not None:
            self.runtime.stop()
            self.runtime = None
        if self.engine is not None:
            self.engine.dispose()


def start_background_services(
    settings: Settings,
    registry: Registry,
    dispatcher: TenantDispatcher | None,
    base_url: str,
    *,
    roles: tuple[str, ...] = ("agreements", "connectors"),
    simulate: bool = False,
) -> tuple[BusRuntime, list[Any]]:
    """Per enabled tenant: the agreement service's relay and consumer and a connector per
    partner agency, all as jobs of one shared runtime (``INTEGRA_WORKER_THREADS`` threads and
    one timer, whatever the tenant count); with ``simulate`` a simulator playing each agency,
    reached at the demo overlay's addresses. Webhook endpoints are mounted on ``dispatcher``,
    which answers at ``base_url``."""
    if simulate:
        registry = apply_overlay(registry, overlay_path(settings.tenants_dir), gateway=base_url)
    tenants = registry.enabled()
    transport = bus_transport(settings)
    runtime = BusRuntime(transport).start()
    started = []
    for tenant in tenants:
        services = TenantServices(
            transport, tenant, base_url, simulate=simulate, runtime=runtime, roles=roles
        )
        services.start(dispatcher)
        started.append(services)
    said = f"Bus: {', '.join(roles)} of {len(tenants)} tenants on {settings.worker_threads} "
    said += "shared worker threads"
    if "connectors" in roles:
        said += f", {sum(len(t.partners) for t in tenants)} connectors "
        said += (
            "with partner simulators (demo)"
            if simulate
            else "delivering to the partner agencies the registry names (no simulators)"
        )
    click.echo(said)
    if not simulate and "connectors" in roles:
        for tenant in tenants:
            for partner in tenant.partners:
                if partner.channel == Channel.WEBHOOK and not partner.webhook_url:
                    click.echo(
                        f"  not connected: {tenant.slug}/{partner.kind} (webhook) has no "
                        "webhook_url in the registry; its referrals wait until it has one",
                        err=True,
                    )
    return runtime, started
