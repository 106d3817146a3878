"""Integra's own objects: configuration, one Deployment (with its autoscaler) per process
type, the web Service, an Ingress per tenant host and the migrate Job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deploy.k8s.options import (
    HOME,
    METRICS_DIR,
    PLATFORM_SECRET,
    PLATFORM_SECRET_KEYS,
    PORT,
    TENANTS_DIR,
    K8sOptions,
)
from deploy.process_types import PROCESS_TYPES, WEB, ProcessType
from tenants.registry import Tenant

#: A ConfigMap holds at most 1 MiB; the registry is split over as many as it needs.
CONFIGMAP_BUDGET = 900 * 1024


def namespace(options: K8sOptions) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": options.namespace, "labels": options.labels("namespace")},
    }


def platform_config(options: K8sOptions) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": options.meta(f"{options.name}-config", "config"),
        "data": {
            "INTEGRA_HOME": HOME,
            "INTEGRA_TENANTS_DIR": TENANTS_DIR,
            "INTEGRA_HOST": "0.0.0.0",  # noqa: S104 (inside the pod; the Service fronts it)
            "INTEGRA_PORT": str(PORT),
            "INTEGRA_DOMAIN": options.domain,
            # <tenant>.<domain> is allowed through INTEGRA_DOMAIN already
            "INTEGRA_ALLOWED_HOSTS": options.domain,
            "INTEGRA_TRUSTED_PROXIES": "1",
            "INTEGRA_DATABASE_PREFIX": options.database,
            "INTEGRA_BROKER_MANAGEMENT_URL": f"http://{options.name}.{options.namespace}.svc:15672",
            "INTEGRA_LOG_FORMAT": "json",
            "PROMETHEUS_MULTIPROC_DIR": METRICS_DIR,
        },
    }


def registry_configmaps(options: K8sOptions, registry_files: list[Path]) -> list[dict[str, Any]]:
    """The tenant registry files, in as few ConfigMaps as the size limit allows."""
    chunks: list[dict[str, str]] = [{}]
    size = 0
    for path in sorted(registry_files):
        text = path.read_text(encoding="utf-8")
        if size + len(text.encode()) > CONFIGMAP_BUDGET and chunks[-1]:
            chunks.append({})
            size = 0
        chunks[-1][path.name] = text
        size += len(text.encode())
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": options.meta(f"{options.name}-tenants-{index}", "config"),
            "data": data,
        }
        for index, data in enumerate(chunks)
    ]


def secrets_volume_claim(options: K8sOptions) -> dict[str, Any]:
    """var/secrets (tenant signing keys, generated passwords): written by the migrate Job and
    at a tenant's first use, read by every process, so shared (ReadWriteMany)."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": options.meta(f"{options.name}-secrets", "secrets"),
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "resources": {"requests": {"storage": options.secrets_storage}},
        },
    }


def _pod_spec(
    options: K8sOptions, command: list[str], configmaps: int, *, http: bool = False
) -> dict[str, Any]:
    probes: dict[str, Any] = {}
    ports: list[dict[str, Any]] = []
    if http:
        ports = [{"name": "http", "containerPort": PORT}]
        probes = {
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
            # 30 s of failures before a pod leaves the Service: a broker restart must not take
            # every web pod out at once (the outbox keeps accepted work meanwhile)
            "readinessProbe": {
                "httpGet": {"path": "/readyz", "port": "http"},
                "periodSeconds": 5,
                "failureThreshold": 6,
            },
        }
    secret_env = [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": PLATFORM_SECRET, "key": ref}}}
        for key, ref in PLATFORM_SECRET_KEYS.items()
    ]
    container = {
        "name": "integra",
        "image": options.image,
        "args": command,
        "envFrom": [{"configMapRef": {"name": f"{options.name}-config"}}],
        "env": secret_env,
        "ports": ports,
        **probes,
        "resources": {"requests": {"cpu": "250m", "memory": "384Mi"}, "limits": {"memory": "1Gi"}},
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "tenants", "mountPath": TENANTS_DIR, "readOnly": True},
            {"name": "var", "mountPath": f"{HOME}/var"},
            {"name": "secrets", "mountPath": f"{HOME}/var/secrets"},
            {"name": "metrics", "mountPath": METRICS_DIR},
        ],
    }
    if not ports:
        del container["ports"]
    return {
        "containers": [container],
        "securityContext": {"fsGroup": 10001, "runAsUser": 10001, "runAsGroup": 10001},
        "volumes": [
            {
                "name": "tenants",
                "projected": {
                    "sources": [
                        {"configMap": {"name": f"{options.name}-tenants-{index}"}}
                        for index in range(configmaps)
                    ]
                },
            },
            {
                "name": "secrets",
                "persistentVolumeClaim": {"claimName": f"{options.name}-secrets"},
            },
            {"name": "var", "emptyDir": {}},
            {"name": "metrics", "emptyDir": {"medium": "Memory"}},
        ],
    }


def deployment(options: K8sOptions, process: ProcessType, configmaps: int) -> dict[str, Any]:
    name = f"{options.name}-{process.name}"
    labels = options.labels(process.name)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": options.meta(name, process.name),
        "spec": {
            "replicas": options.replicas_of(process.name).minimum,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    **_pod_spec(
                        options, ["integra", *process.args], configmaps, http=process.serves_http
                    ),
                    "terminationGracePeriodSeconds": 30,
                },
            },
        },
    }


def autoscaler(options: K8sOptions, process: ProcessType) -> dict[str, Any]:
    replicas = options.replicas_of(process.name)
    name = f"{options.name}-{process.name}"
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": options.meta(name, process.name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": replicas.minimum,
            "maxReplicas": replicas.maximum,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": replicas.cpu_percent,
                        },
                    },
                }
            ],
        },
    }


def web_service(options: K8sOptions) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": options.meta(f"{options.name}-web", WEB.name),
        "spec": {
            "selector": options.labels(WEB.name),
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }


def migrate_job(options: K8sOptions, configmaps: int, revision: str) -> dict[str, Any]:
    """``integra migrate``: each tenant's schema and role, then its migrations. Apply it
    (named after the registry's revision) before rolling out a new image."""
    pod = _pod_spec(options, ["integra", "migrate"], configmaps)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": options.meta(f"{options.name}-migrate-{revision}", "migrate"),
        "spec": {
            "backoffLimit": 2,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": options.labels("migrate")},
                "spec": {**pod, "restartPolicy": "Never"},
            },
        },
    }


def tenant_ingress(options: K8sOptions, tenant: Tenant) -> dict[str, Any]:
    host = f"{tenant.slug}.{options.domain}"
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": options.meta(
            f"{options.name}-{tenant.slug}", "ingress", annotations={"integra/tenant": tenant.slug}
        ),
        "spec": {
            "ingressClassName": options.ingress_class,
            "tls": [{"hosts": [host], "secretName": f"{options.name}-tls-{tenant.slug}"}],
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {
                                    "service": {
                                        "name": f"{options.name}-web",
                                        "port": {"name": "http"},
                                    }
                                },
                            }
                        ]
                    },
                }
            ],
        },
    }


def workloads(options: K8sOptions, configmaps: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for process in PROCESS_TYPES:
        found.append(deployment(options, process, configmaps))
        found.append(autoscaler(options, process))
    found.append(web_service(options))
    return found
