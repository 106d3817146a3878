"""What ``integra deploy k8s`` needs besides the registry: names and sizes of the
installation on the cluster, with the defaults a pilot starts from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deploy.process_types import PROCESS_TYPES

#: Where the image keeps Integra's home (var/) and the registry mounted from ConfigMaps.
HOME = "/var/lib/integra"
TENANTS_DIR = "/etc/integra/tenants"
METRICS_DIR = "/run/integra/metrics"
PORT = 8000
#: The Secret the operator creates (``kubectl create secret``): the values never pass through
#: the generator or the repository.
PLATFORM_SECRET = "integra-platform"  # noqa: S105 (the name of a Secret)
PLATFORM_SECRET_KEYS = {
    "INTEGRA_DATABASE_URL": "database-url",
    "INTEGRA_BROKER_URL": "broker-url",
    "INTEGRA_METRICS_TOKEN": "metrics-token",
}


@dataclass(frozen=True)
class Replicas:
    minimum: int
    maximum: int
    cpu_percent: int = 70


@dataclass(frozen=True)
class K8sOptions:
    domain: str
    namespace: str = "integra"
    image: str = "integra:latest"
    ingress_class: str = "nginx"
    #: Name prefix of every object; also the RabbitmqCluster's and the vhost's name.
    name: str = "integra"
    database: str = "integra"
    postgres_instances: int = 3
    postgres_storage: str = "50Gi"
    rabbitmq_replicas: int = 3
    rabbitmq_storage: str = "20Gi"
    secrets_storage: str = "1Gi"
    replicas: tuple[tuple[str, Replicas], ...] = (
        ("web", Replicas(2, 8)),
        ("worker-agreements", Replicas(1, 4)),
        ("worker-connectors", Replicas(1, 4)),
    )

    def __post_init__(self) -> None:
        declared = {p.name for p in PROCESS_TYPES}
        given = {name for name, _ in self.replicas}
        if given != declared:
            raise ValueError(f"replicas for {sorted(declared)} expected, got {sorted(given)}")

    def replicas_of(self, process: str) -> Replicas:
        return dict(self.replicas)[process]

    def labels(self, component: str) -> dict[str, str]:
        return {
            "app.kubernetes.io/name": self.name,
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/managed-by": "integra-deploy",
        }

    def meta(self, name: str, component: str, **extra: Any) -> dict[str, Any]:
        return {
            "name": name,
            "namespace": self.namespace,
            "labels": self.labels(component),
            **extra,
        }
