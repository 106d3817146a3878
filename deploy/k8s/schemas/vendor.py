"""Re-vendor the schemas under this folder (run by hand when moving to new versions; the
tests and ``integra deploy k8s`` only read the result).

    python deploy/k8s/schemas/vendor.py K8S_SCHEMA_DIR CLUSTER_OPERATOR TOPOLOGY_OPERATOR CNPG

K8S_SCHEMA_DIR: a ``vX.Y.Z-local-strict`` folder of the Kubernetes JSON schemas generated
from the official OpenAPI document (as kubernetes-json-schema / kubernetes-validate publish
them); the operator arguments: checkouts of rabbitmq/cluster-operator,
rabbitmq/messaging-topology-operator and cloudnative-pg/cloudnative-pg. Only the kinds
Integra generates are kept, and of the Kubernetes definitions only those they reach.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
CORE_KINDS = (
    "configmap-v1",
    "deployment-apps-v1",
    "horizontalpodautoscaler-autoscaling-v2",
    "ingress-networking-v1",
    "job-batch-v1",
    "namespace-v1",
    "persistentvolumeclaim-v1",
    "service-v1",
)
#: (checkout argument index, CRD file, version) per operator resource.
CRDS = (
    (1, "config/crd/bases/rabbitmq.com_rabbitmqclusters.yaml", "v1beta1"),
    (2, "config/crd/bases/rabbitmq.com_vhosts.yaml", "v1beta1"),
    (2, "config/crd/bases/rabbitmq.com_users.yaml", "v1beta1"),
    (2, "config/crd/bases/rabbitmq.com_permissions.yaml", "v1beta1"),
    (2, "config/crd/bases/rabbitmq.com_topicpermissions.yaml", "v1beta1"),
    (2, "config/crd/bases/rabbitmq.com_queues.yaml", "v1beta1"),
    (2, "config/crd/bases/rabbitmq.com_exchanges.yaml", "v1beta1"),
    (3, "config/crd/bases/postgresql.cnpg.io_clusters.yaml", "v1"),
    (3, "config/crd/bases/postgresql.cnpg.io_databases.yaml", "v1"),
)


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.rpartition("/")[2])
            else:
                found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def vendor_core(source: Path) -> None:
    everything = json.loads((source / "_definitions.json").read_text())
    definitions = everything["$defs"]
    out = HERE / "kubernetes"
    out.mkdir(exist_ok=True)
    wanted: set[str] = set()
    for kind in CORE_KINDS:
        schema = json.loads((source / f"{kind}.json").read_text())
        (out / f"{kind}.json").write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
        wanted |= _refs(schema)
    kept: dict[str, Any] = {}
    while wanted:
        name = wanted.pop()
        if name in kept:
            continue
        kept[name] = definitions[name]
        wanted |= _refs(kept[name]) - set(kept)
    everything["$defs"] = kept
    text = json.dumps(everything, indent=1, sort_keys=True)
    (out / "_definitions.json").write_text(text + "\n")


def vendor_crds(checkouts: list[Path]) -> None:
    out = HERE / "crds"
    out.mkdir(exist_ok=True)
    for index, path, version in CRDS:
        crd = yaml.safe_load((checkouts[index - 1] / path).read_text())
        spec = crd["spec"]
        served = next(v for v in spec["versions"] if v["name"] == version)
        name = f"{spec['names']['kind'].lower()}-{spec['group'].split('.')[0]}-{version}.json"
        schema = served["schema"]["openAPIV3Schema"]
        schema["x-integra-source"] = {"group": spec["group"], "kind": spec["names"]["kind"]}
        (out / name).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    core, *operators = (Path(arg) for arg in sys.argv[1:])
    vendor_core(core)
    vendor_crds(operators)
