"""The process types of the platform on PostgreSQL + RabbitMQ, declared once.

``integra up`` runs them side by side; a systemd unit instance (``integra@<type>``, through
``integra process <type>``) or a Kubernetes Deployment (``integra deploy k8s``) runs the same
commands, one process type each. Every type serves all tenants: the count of processes
depends on load, never on the number of tenants.
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
    #: Whether it serves HTTP on INTEGRA_PORT (a Service and an Ingress point at it).
    serves_http: bool = False


WEB = ProcessType(
    "web",
    ("web",),
    "The gateway with every tenant's app (created on first request, least recently used "
    "ones released); forwards agency callbacks to the connectors worker.",
    serves_http=True,
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


def process_type(name: str) -> ProcessType:
    """The declared type called ``name``; ValueError names the known ones."""
    for candidate in PROCESS_TYPES:
        if candidate.name == name:
            return candidate
    known = ", ".join(p.name for p in PROCESS_TYPES)
    raise ValueError(f"unknown process type {name!r}; known: {known}")
