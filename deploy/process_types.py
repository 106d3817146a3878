"""The process types an installation runs, declared once.

``integra up`` runs all of them in one process tree (the embedded default, a laptop, a small
VM). A larger installation runs each type as processes of its own, as many as it needs: one
systemd unit instance per type (``deploy/systemd/integra@.service``) or one Kubernetes
Deployment per type (``integra deploy k8s``). Every process of a type serves all tenants:
the count of processes follows the load, never the count of tenants.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProcessType:
    name: str
    summary: str
    #: Whether it serves HTTP on INTEGRA_PORT (a Service and an Ingress point at it).
    serves_http: bool = False

    @property
    def command(self) -> tuple[str, ...]:
        """Arguments after ``integra`` that run one process of this type."""
        return ("worker", self.name)


WEB = ProcessType(
    "web",
    "the gateway: portal, API, OAuth, health, readiness and metrics for every tenant",
    serves_http=True,
)
WORKER_AGREEMENTS = ProcessType(
    "worker-agreements",
    "the agreement service's outbox relay and inbox consumer for every tenant",
)
WORKER_CONNECTORS = ProcessType(
    "worker-connectors",
    "the connectors to the partner agencies (AMQP, webhook, XML files) for every tenant",
)

PROCESS_TYPES: tuple[ProcessType, ...] = (WEB, WORKER_AGREEMENTS, WORKER_CONNECTORS)


def process_type(name: str) -> ProcessType:
    """The declared type called ``name``; ValueError names the known ones."""
    for candidate in PROCESS_TYPES:
        if candidate.name == name:
            return candidate
    known = ", ".join(p.name for p in PROCESS_TYPES)
    raise ValueError(f"unknown process type {name!r}; known: {known}")
