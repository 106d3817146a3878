"""The backing services as operator resources: RabbitMQ (Cluster Operator and Messaging
Topology Operator) and PostgreSQL (CloudNativePG).

Broker layout: one shared vhost for all tenants (one vhost per tenant made a restart take
minutes at 400 tenants; see FACTS.md), a user per tenant whose resource permissions reach
only names starting with ``<slug>.`` and whose topic permissions on the events exchange reach
only routing keys starting with ``<slug>.``; the exchanges are shared, the queues per tenant.
Database layout: one CloudNativePG cluster and one database; each tenant's schema and role are
created by ``integra migrate`` (the migrate Job), not here.
"""

from __future__ import annotations

import re
from typing import Any

from deploy.k8s.options import K8sOptions
from messaging import topology
from tenants.registry import Tenant

RABBITMQ = "rabbitmq.com/v1beta1"
CNPG = "postgresql.cnpg.io/v1"


def _cluster_ref(options: K8sOptions) -> dict[str, str]:
    return {"name": options.name}


def tenant_prefix(tenant: Tenant) -> str:
    """What every broker name of the tenant starts with, as a regular expression."""
    return "^" + re.escape(f"{tenant.slug}.")


def tenant_queues(tenant: Tenant) -> list[tuple[str, dict[str, Any]]]:
    """(name, arguments) of the tenant's queues in the shared vhost."""
    found: list[tuple[str, dict[str, Any]]] = []
    for spec in topology.queues(tenant):
        arguments = dict(spec.arguments)
        arguments["x-dead-letter-routing-key"] = f"{tenant.slug}.{spec.name}"
        found.append((f"{tenant.slug}.{spec.name}", arguments))
        found.append((f"{tenant.slug}.{spec.dead_letter_queue}", dict(spec.dead_letter_arguments)))
    for pair in topology.agency_pairs(tenant):
        for name in (pair.referrals, pair.answers):
            found.append((f"{tenant.slug}.{name}", dict(pair.arguments)))
    return found


def rabbitmq(options: K8sOptions) -> list[dict[str, Any]]:
    """The cluster, the shared vhost and the shared exchanges."""
    ref = _cluster_ref(options)
    vhost = options.name
    return [
        {
            "apiVersion": RABBITMQ,
            "kind": "RabbitmqCluster",
            "metadata": options.meta(options.name, "broker"),
            "spec": {
                "replicas": options.rabbitmq_replicas,
                "persistence": {"storage": options.rabbitmq_storage},
                "rabbitmq": {"additionalPlugins": ["rabbitmq_prometheus"]},
            },
        },
        {
            "apiVersion": RABBITMQ,
            "kind": "Vhost",
            "metadata": options.meta(f"{options.name}-vhost", "broker"),
            "spec": {"name": vhost, "rabbitmqClusterReference": ref, "defaultQueueType": "quorum"},
        },
        *(
            {
                "apiVersion": RABBITMQ,
                "kind": "Exchange",
                "metadata": options.meta(f"{options.name}-{name.replace('.', '-')}", "broker"),
                "spec": {
                    "name": name,
                    "vhost": vhost,
                    "type": "topic",
                    "durable": True,
                    "rabbitmqClusterReference": ref,
                },
            }
            for name in (topology.EVENTS_EXCHANGE, topology.DEAD_EXCHANGE)
        ),
    ]


def tenant_broker(options: K8sOptions, tenant: Tenant) -> list[dict[str, Any]]:
    """The tenant's user, its permissions and its queues."""
    ref = _cluster_ref(options)
    vhost = options.name
    base = f"{options.name}-{tenant.slug}"
    own = tenant_prefix(tenant)
    user = {"name": f"{base}-user"}
    shared = "|".join(re.escape(x) for x in (topology.EVENTS_EXCHANGE, topology.DEAD_EXCHANGE))
    manifests: list[dict[str, Any]] = [
        {
            "apiVersion": RABBITMQ,
            "kind": "User",
            "metadata": options.meta(
                user["name"], "broker", annotations={"integra/tenant": tenant.slug}
            ),
            "spec": {
                "rabbitmqClusterReference": ref,
                # username and password from a Secret the operator creates; never in here
                "importCredentialsSecret": {"name": f"{base}-broker"},
            },
        },
        {
            "apiVersion": RABBITMQ,
            "kind": "Permission",
            "metadata": options.meta(f"{base}-permission", "broker"),
            "spec": {
                "vhost": vhost,
                "userReference": user,
                "permissions": {
                    "configure": own,
                    "write": f"{own}|^({shared})$",
                    "read": own,
                },
                "rabbitmqClusterReference": ref,
            },
        },
        {
            "apiVersion": RABBITMQ,
            "kind": "TopicPermission",
            "metadata": options.meta(f"{base}-topic-permission", "broker"),
            "spec": {
                "vhost": vhost,
                "userReference": user,
                "permissions": {"exchange": topology.EVENTS_EXCHANGE, "write": own, "read": own},
                "rabbitmqClusterReference": ref,
            },
        },
    ]
    for name, arguments in tenant_queues(tenant):
        manifests.append(
            {
                "apiVersion": RABBITMQ,
                "kind": "Queue",
                "metadata": options.meta(f"{options.name}-q-{name.replace('.', '-')}", "broker"),
                "spec": {
                    "name": name,
                    "vhost": vhost,
                    "type": "quorum",
                    "durable": True,
                    "autoDelete": False,
                    "arguments": {k: v for k, v in arguments.items() if k != "x-queue-type"},
                    "rabbitmqClusterReference": ref,
                },
            }
        )
    return manifests


def postgres(options: K8sOptions) -> list[dict[str, Any]]:
    """One CloudNativePG cluster with the platform's login role (it creates each tenant's
    NOLOGIN role and schema) and one database."""
    cluster = f"{options.name}-pg"
    return [
        {
            "apiVersion": CNPG,
            "kind": "Cluster",
            "metadata": options.meta(cluster, "database"),
            "spec": {
                "instances": options.postgres_instances,
                "storage": {"size": options.postgres_storage},
                "managed": {
                    "roles": [
                        {
                            "name": options.database,
                            "ensure": "present",
                            "login": True,
                            "createrole": True,
                            "passwordSecret": {"name": f"{options.name}-database-login"},
                        }
                    ]
                },
                "monitoring": {"enablePodMonitor": False},
            },
        },
        {
            "apiVersion": CNPG,
            "kind": "Database",
            "metadata": options.meta(f"{options.name}-database", "database"),
            "spec": {
                "name": options.database,
                "owner": options.database,
                "cluster": {"name": cluster},
                "ensure": "present",
                "databaseReclaimPolicy": "retain",
                "extensions": [{"name": "pg_trgm", "ensure": "present"}],
            },
        },
    ]
