"""The process types of the platform on PostgreSQL + RabbitMQ, declared once.

``integra up`` runs them side by side (``deploy.supervisor``); a systemd unit or a Kubernetes
Deployment runs the same commands, one process type each. Every type serves all tenants: the
count of processes depends on load, never on the number of tenants.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Bus roles a worker process can take (``TenantServices.roles``).
AGREEMENTS = "agreements"
CONNECTORS = "connectors"
WORKER_ROLES = (AGREEMENTS, CONNECTORS)


@dataclass(frozen=True)
class ProcessType:
    name: str
    #: The ``integra`` arguments that run one process of this type.
    args: tuple[str, ...]
    doc: str


WEB = ProcessType(
    "web",
    ("web",),
    "The gateway with every tenant's app (created on first request, least recently used "
    "ones released); forwards agency callbacks to the connectors worker.",
)
AGREEMENTS_WORKER = ProcessType(
    "worker-agreements",
    ("worker", AGREEMENTS),
    "The agreement service's outbox relays, inbox consumers and outbox sweeper of all tenants.",
)
CONNECTORS_WORKER = ProcessType(
    "worker-connectors",
    ("worker", CONNECTORS),
    "Every tenant's connectors (relay, consumer, delivery to agencies, answer intake) and, "
    "with demo data or --simulate, the partner simulators; serves the agencies' callbacks.",
)
PROCESS_TYPES = (WEB, AGREEMENTS_WORKER, CONNECTORS_WORKER)
