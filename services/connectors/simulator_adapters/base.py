"""What every simulated agency adapter offers the composition root, and what it is given.

An adapter puts a :class:`~services.connectors.simulators.SimulatedAgency` (the behaviour) on
one channel: it reads what the connector delivers there and answers the way a real agency's
system would on that channel.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from joserfc import jws

from messaging.signing import BusKeyring
from messaging.transports.base import Transport
from tenants.registry import PartnerEntry, Tenant
from tenants.settings import Settings

from ..simulators import SimulatedAgency


@dataclass(frozen=True)
class SimulationSite:
    """Where a simulated agency plays: the tenant's bus transport, the partner entry it plays,
    the tenant's bus keys (to verify what Integra sends) and the base URL of the gateway that
    serves the connectors' callbacks and the simulated web endpoints."""

    transport: Transport
    tenant: Tenant
    partner: PartnerEntry
    keys: BusKeyring
    base_url: str

    @property
    def settings(self) -> Settings:
        return self.transport.settings

    @property
    def callback_url(self) -> str:
        """Where the connector takes this agency's pushed answers (webhook callback)."""
        return f"{self.base_url}/t/{self.tenant.slug}/agency/{self.partner.kind}/callback"


@dataclass(frozen=True)
class SimulatedEndpoint:
    """A simulated agency's own web endpoint: the gateway mounts ``app`` at ``path``, and the
    connector delivers to ``url``."""

    path: str
    url: str
    app: Any


class SimulatorAdapter(Protocol):
    """A simulated agency on its channel, as ``deploy.services`` starts and stops it."""

    agency: SimulatedAgency

    @property
    def partner(self) -> PartnerEntry:
        """The registry entry through which the connector reaches this simulated agency (the
        partner's own, or one pointing at the simulator's endpoint instead of the agency's)."""

    @property
    def endpoint(self) -> SimulatedEndpoint | None:
        """The agency's own web endpoint, for the gateway to mount; None if it has none."""

    def pump_once(self) -> int:
        """Take what the connector delivered, send the answers that are due; returns how many
        messages moved (a job of the shared pool runs it when woken)."""
        ...

    def start_thread(self) -> threading.Thread: ...

    def stop(self) -> None: ...


def verify_tenant_message(keys: BusKeyring, body: bytes) -> dict[str, Any]:
    """What an agency does first: check Integra's signature, then read the envelope."""
    token = jws.deserialize_compact(body.decode("ascii"), keys.verification_keys)
    data: dict[str, Any] = json.loads(token.payload)
    return data
