"""The background services of a tenant: the agreement service's relay and consumer, one
connector per partner agency, and (demo, tests) a simulator playing each agency.

``integra up`` starts them for every tenant in its one process; tests start them for the
tenants they use. Webhook endpoints (connector callbacks, simulated agencies) are mounted on
the gateway, so one HTTP port serves everything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from gateway.dispatch import TenantDispatcher
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
from tenants.registry import PartnerEntry, Tenant
from tenants.settings import Settings

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
        self.engine = create_tenant_engine(self.settings, self.tenant, pool_size=2)
        self.agreement_bus = agreements.start(self.transport, self.tenant, self.engine)
        keys = BusKeyring.load(self.settings, slug)
        for partner in self.tenant.partners:
            reached_as = partner
            if self.simulate:
                simulator = self._simulator(partner, keys)
                self.simulators[partner.kind] = simulator
                reached_as = simulator.partner  # e.g. the simulator's endpoint for a webhook
                if simulator.endpoint is not None and dispatcher is not None:
                    dispatcher.mount(simulator.endpoint.path, simulator.endpoint.app)
            runtime = connectors.start(
                self.transport, self.tenant, reached_as, delay_threshold=self.delay_threshold
            )
            self.connectors[partner.kind] = runtime
            if runtime.has_callback and dispatcher is not None:
                dispatcher.mount(
                    f"/t/{slug}/agency/{partner.kind}",
                    runtime.callback_app(),
                    script_name=f"/t/{slug}",
                )
        for simulator in self.simulators.values():
            simulator.start_thread()

    def signal_stop(self) -> None:
        """Ask every thread to stop without waiting (stopping many tenants at once)."""
        for simulator in self.simulators.values():
            simulator.stop()
        for runtime in self.connectors.values():
            runtime.signal_stop()
        if self.agreement_bus is not None:
            self.agreement_bus.signal_stop()

    def stop(self) -> None:
        self.signal_stop()
        for runtime in self.connectors.values():
            runtime.stop()
        if self.agreement_bus is not None:
            self.agreement_bus.stop()
        if self.engine is not None:
            self.engine.dispose()
