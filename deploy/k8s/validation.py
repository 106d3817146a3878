"""Validation of generated Kubernetes manifests against the schemas shipped under
``deploy/k8s/schemas/``: the official Kubernetes schemas for core kinds, the operators' CRD
schemas for RabbitmqCluster, the Messaging Topology Operator's resources and CloudNativePG.

Offline and exact: ``integra deploy k8s`` validates every manifest before it writes one, and
the tests validate what it generates (and that a broken manifest fails).
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parent / "schemas"

#: (apiVersion, kind) → the vendored schema file.
CORE_KINDS: dict[tuple[str, str], str] = {
    ("v1", "ConfigMap"): "configmap-v1.json",
    ("v1", "Namespace"): "namespace-v1.json",
    ("v1", "PersistentVolumeClaim"): "persistentvolumeclaim-v1.json",
    ("v1", "Service"): "service-v1.json",
    ("apps/v1", "Deployment"): "deployment-apps-v1.json",
    ("batch/v1", "Job"): "job-batch-v1.json",
    ("networking.k8s.io/v1", "Ingress"): "ingress-networking-v1.json",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "horizontalpodautoscaler-autoscaling-v2.json",
}
CUSTOM_KINDS: dict[tuple[str, str], str] = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): "rabbitmqcluster-rabbitmq-v1beta1.json",
    ("rabbitmq.com/v1beta1", "Vhost"): "vhost-rabbitmq-v1beta1.json",
    ("rabbitmq.com/v1beta1", "User"): "user-rabbitmq-v1beta1.json",
    ("rabbitmq.com/v1beta1", "Permission"): "permission-rabbitmq-v1beta1.json",
    ("rabbitmq.com/v1beta1", "TopicPermission"): "topicpermission-rabbitmq-v1beta1.json",
    ("rabbitmq.com/v1beta1", "Queue"): "queue-rabbitmq-v1beta1.json",
    ("rabbitmq.com/v1beta1", "Exchange"): "exchange-rabbitmq-v1beta1.json",
    ("postgresql.cnpg.io/v1", "Cluster"): "cluster-postgresql-v1.json",
    ("postgresql.cnpg.io/v1", "Database"): "database-postgresql-v1.json",
}
OBJECT_META = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
#: RFC 1123 subdomain: what Kubernetes accepts as the name of almost every object.
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class ManifestError(ValueError):
    """A manifest breaks its schema; the message names the object and every problem."""


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@cache
def _registry() -> Registry:
    definitions = _load(SCHEMAS / "kubernetes" / "_definitions.json")
    return Registry().with_resource(definitions["$id"], Resource.from_contents(definitions))


def _closed(schema: Any) -> Any:
    """Refuse unknown fields, as ``kubectl apply --validate=strict`` does: every object with
    listed properties is closed unless it preserves unknown fields."""
    if isinstance(schema, dict):
        out = {key: _closed(value) for key, value in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    return schema


@cache
def validator(api_version: str, kind: str) -> Draft202012Validator:
    key = (api_version, kind)
    if key in CORE_KINDS:
        schema = _load(SCHEMAS / "kubernetes" / CORE_KINDS[key])
    elif key in CUSTOM_KINDS:
        schema = _closed(_load(SCHEMAS / "crds" / CUSTOM_KINDS[key]))
        schema = copy.deepcopy(schema)
        schema.pop("x-integra-source", None)
        schema["properties"]["metadata"] = {"$ref": OBJECT_META}
        schema["required"] = sorted({*schema.get("required", ()), "spec"})
    else:
        raise ManifestError(f"no vendored schema for {api_version} {kind}")
    return Draft202012Validator(schema, registry=_registry())


def problems(manifest: dict[str, Any]) -> list[str]:
    """Every way ``manifest`` breaks its schema (empty when it is valid)."""
    api_version, kind = manifest.get("apiVersion", ""), manifest.get("kind", "")
    try:
        check = validator(str(api_version), str(kind))
    except ManifestError as exc:
        return [str(exc)]
    found = [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in sorted(check.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    ]
    name = (manifest.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not NAME.match(name) or len(name) > 253:
        found.append(f"metadata/name: {name!r} is not a valid Kubernetes object name")
    return found


def validate(manifest: dict[str, Any]) -> None:
    """Raise :class:`ManifestError` naming the object and its problems, if it has any."""
    found = problems(manifest)
    if found:
        name = (manifest.get("metadata") or {}).get("name")
        raise ManifestError(
            f"{manifest.get('kind')} {name}: " + "; ".join(found[:10])
            + (f" (and {len(found) - 10} more)" if len(found) > 10 else "")
        )  # fmt: skip
