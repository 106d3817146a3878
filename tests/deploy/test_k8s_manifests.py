"""``integra deploy k8s``: the manifests it generates from the registry validate against the
vendored Kubernetes and operator schemas, a broken manifest does not, and what the
generator writes keeps every tenant apart and every secret out."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from deploy.cli import main
from deploy.k8s import validation
from deploy.k8s.generate import Manifests, check, generate, write
from deploy.k8s.options import PLATFORM_SECRET, K8sOptions
from deploy.k8s.validation import ManifestError, problems
from deploy.process_types import PROCESS_TYPES
from tenants.registry import Registry, load_registry
from tenants.settings import load_settings

DOMAIN = "integra.example.org"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(load_settings({}).tenants_dir)


@pytest.fixture(scope="module")
def manifests(registry: Registry) -> Manifests:
    return generate(registry, load_settings({}).tenants_dir, K8sOptions(domain=DOMAIN))


def _all(manifests: Manifests) -> list[dict[str, Any]]:
    return [m for documents in manifests.values() for m in documents]


def _of(manifests: Manifests, kind: str) -> list[dict[str, Any]]:
    return [m for m in _all(manifests) if m["kind"] == kind]


def test_every_generated_manifest_validates_against_its_schema(manifests: Manifests) -> None:
    invalid = {
        f"{m['kind']} {m['metadata']['name']}": problems(m) for m in _all(manifests) if problems(m)
    }
    assert invalid == {}
    kinds = {(m["apiVersion"], m["kind"]) for m in _all(manifests)}
    assert kinds == set(validation.CORE_KINDS) | set(validation.CUSTOM_KINDS)


@pytest.mark.parametrize(
    ("kind", "breaking"),
    [
        ("Deployment", lambda m: m["spec"].__setitem__("replicas", "two")),
        ("Deployment", lambda m: m["spec"]["template"]["spec"]["containers"][0].pop("name")),
        ("Ingress", lambda m: m["spec"]["rules"][0].__setitem__("hosts", ["x"])),
        ("HorizontalPodAutoscaler", lambda m: m["spec"].pop("maxReplicas")),
        ("Cluster", lambda m: m["spec"].pop("instances")),
        ("Database", lambda m: m["spec"]["cluster"].__setitem__("nmae", "x")),
        ("Queue", lambda m: m["spec"].__setitem__("durable", "yes")),
        ("TopicPermission", lambda m: m["spec"].pop("vhost")),
        ("User", lambda m: m["metadata"].__setitem__("name", "Not_A_Name")),
        ("RabbitmqCluster", lambda m: m["spec"].__setitem__("replicaz", 3)),
    ],
)
def test_a_broken_manifest_fails(manifests: Manifests, kind: str, breaking: Any) -> None:
    manifest = copy.deepcopy(_of(manifests, kind)[0])
    assert problems(manifest) == []
    breaking(manifest)
    assert problems(manifest) != []


def test_nothing_is_written_when_one_manifest_is_broken(
    manifests: Manifests, tmp_path: Path
) -> None:
    broken = copy.deepcopy(manifests)
    broken["50-workloads.yaml"][0]["spec"]["selector"] = "everything"
    with pytest.raises(ManifestError, match=r"50-workloads.yaml: Deployment integra-web"):
        write(broken, tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ManifestError, match="no vendored schema"):
        check({"x.yaml": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}]})


def test_a_deployment_and_an_autoscaler_per_process_type(manifests: Manifests) -> None:
    deployments = {m["metadata"]["name"]: m for m in _of(manifests, "Deployment")}
    assert set(deployments) == {f"integra-{p.name}" for p in PROCESS_TYPES}
    for process in PROCESS_TYPES:
        container = deployments[f"integra-{process.name}"]["spec"]["template"]["spec"][
            "containers"
        ][0]
        assert container["args"] == ["integra", *process.args]
        assert ("readinessProbe" in container) is process.serves_http
    targets = {
        m["spec"]["scaleTargetRef"]["name"] for m in _of(manifests, "HorizontalPodAutoscaler")
    }
    assert targets == set(deployments)
    assert [m["metadata"]["name"] for m in _of(manifests, "Service")] == ["integra-web"]


def test_an_ingress_per_enabled_tenant_host(manifests: Manifests, registry: Registry) -> None:
    hosts = sorted(m["spec"]["rules"][0]["host"] for m in _of(manifests, "Ingress"))
    assert hosts == sorted(f"{t.slug}.{DOMAIN}" for t in registry.enabled())
    assert len(hosts) == 18


def test_secrets_are_referenced_never_included(manifests: Manifests) -> None:
    assert _of(manifests, "Secret") == []
    text = yaml.safe_dump_all(_all(manifests))
    assert not re.search(r"(?i)(password|secret|token)\s*:\s*['\"]?[A-Za-z0-9+/]{12,}", text)
    for deployment in _of(manifests, "Deployment"):
        env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        assert all("value" not in e for e in env)
        assert {e["valueFrom"]["secretKeyRef"]["name"] for e in env} == {PLATFORM_SECRET}


def test_broker_permissions_reach_only_the_tenants_own_names(manifests: Manifests) -> None:
    permissions = {
        m["spec"]["userReference"]["name"]: m["spec"]["permissions"]
        for m in _of(manifests, "Permission")
    }
    topic = {
        m["spec"]["userReference"]["name"]: m["spec"]["permissions"]
        for m in _of(manifests, "TopicPermission")
    }
    queues = [m["spec"]["name"] for m in _of(manifests, "Queue")]
    assert len(queues) == len(set(queues))
    essen, freiburg = permissions["integra-essen-user"], permissions["integra-freiburg-user"]
    for queue in queues:
        own = queue.startswith("essen.")
        assert bool(re.match(essen["read"], queue)) is own
        assert bool(re.match(essen["configure"], queue)) is own
        assert bool(re.match(freiburg["read"], queue)) is queue.startswith("freiburg.")
    assert re.match(essen["write"], "integra.events")
    assert not re.match(essen["write"], "integra.events.x")
    assert topic["integra-essen-user"]["exchange"] == "integra.events"
    assert re.match(topic["integra-essen-user"]["write"], "essen.agreements.referral.accepted")
    assert not re.match(topic["integra-essen-user"]["write"], "freiburg.agreements.x")
    vhosts = {m["spec"]["vhost"] for m in _of(manifests, "Queue")}
    assert vhosts == {"integra"}


def test_the_cli_writes_what_kubectl_reads(tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    result = CliRunner().invoke(
        main, ["deploy", "k8s", "--out", str(out), "--domain", DOMAIN], env={}
    )
    assert result.exit_code == 0, result.output
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml"))
    assert files[:6] == [
        "00-namespace.yaml",
        "10-config.yaml",
        "20-postgres.yaml",
        "30-rabbitmq.yaml",
        "40-migrate.yaml",
        "50-workloads.yaml",
    ]
    assert "tenants/freiburg.yaml" in files
    for path in out.rglob("*.yaml"):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert problems(document) == []


def test_the_cli_refuses_without_a_domain(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["deploy", "k8s", "--out", str(tmp_path / "x")], env={"INTEGRA_DOMAIN": ""}
    )
    assert result.exit_code == 1
    assert "base domain" in result.output
    assert not (tmp_path / "x").exists()


def test_the_vendored_schemas_carry_their_licences() -> None:
    schemas = validation.SCHEMAS
    assert "Apache License" in (schemas / "kubernetes" / "LICENSE").read_text()
    assert "Kubernetes Authors" in (schemas / "kubernetes" / "NOTICE").read_text()
    for name in validation.CUSTOM_KINDS.values():
        assert (schemas / "crds" / name).is_file()
    assert len(list((schemas / "crds").glob("LICENSE-*"))) == 3


def test_a_large_registry_is_split_over_configmaps_all_mounted(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deploy.k8s import workloads

    monkeypatch.setattr(workloads, "CONFIGMAP_BUDGET", 8 * 1024)
    split = generate(registry, load_settings({}).tenants_dir, K8sOptions(domain=DOMAIN))
    maps = [
        m for m in split["10-config.yaml"] if m["metadata"]["name"].startswith("integra-tenants-")
    ]
    assert len(maps) > 2
    assert all(sum(len(v.encode()) for v in m["data"].values()) <= 8 * 1024 for m in maps)
    files = sorted(name for m in maps for name in m["data"])
    assert files == sorted(f"{t.slug}.toml" for t in registry.enabled())
    check(split)
    for deployment in _of(split, "Deployment"):
        volumes = deployment["spec"]["template"]["spec"]["volumes"]
        sources = next(v for v in volumes if v["name"] == "tenants")["projected"]["sources"]
        assert [s["configMap"]["name"] for s in sources] == [m["metadata"]["name"] for m in maps]
