"""The demo overlay: simulator addresses live apart from the pilot files, and `integra up`
runs simulators only where asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.runner import demo_mark, runs_simulators
from services.agreements.context import DemoMark
from tenants.demo_overlay import apply_overlay, load_overlay, overlay_path
from tenants.registry import RegistryError, load_registry
from tenants.settings import load_settings

SHIPPED = load_settings({}).tenants_dir
GATEWAY = "http://127.0.0.1:18000"


def test_the_overlay_names_every_webhook_partner_at_its_simulator() -> None:
    registry = load_registry(SHIPPED)
    overlaid = apply_overlay(registry, overlay_path(SHIPPED), gateway=GATEWAY)
    webhook = 0
    for tenant in overlaid:
        for partner in tenant.partners:
            if partner.channel == "webhook":
                webhook += 1
                # What services/connectors/simulator_adapters/webhook.py serves.
                assert partner.webhook_url == f"{GATEWAY}/sim/{tenant.slug}/{partner.kind}"
            else:
                assert partner == registry.require(tenant.slug).partner(partner.kind)
    assert webhook == sum(len(v) for v in load_overlay(overlay_path(SHIPPED)).values())
    # The pilot files themselves stay without any simulator address.
    assert all(p.webhook_url is None for t in registry for p in t.partners)


def _overlay(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "partners.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[freiburg.arbeitsagentur]\nwebhook_url = "{gateway}/x"\n', "only for the webhook"),
        ('[freiburg.jobcenter]\nchannel = "amqp"\n', "cannot be overlaid"),
        ('[freiburg.jobcenter]\nwebhook_url = "not a url"\n', "Not a valid URL"),
        ('[freiburg.sozialamt]\nwebhook_url = "{gateway}/x"\n', "no partner of kind"),
        ("[freiburg]\njobcenter = 1\n", "must be a table of fields"),
        ("[freiburg.jobcenter\n", "not a readable overlay"),
    ],
)
def test_a_bad_overlay_is_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        apply_overlay(load_registry(SHIPPED), _overlay(tmp_path, text), gateway=GATEWAY)


def test_an_overlay_for_a_tenant_not_served_changes_nothing(tmp_path: Path) -> None:
    registry = load_registry(SHIPPED)
    path = _overlay(tmp_path, '[atlantis.jobcenter]\nwebhook_url = "{gateway}/x"\n')
    assert apply_overlay(registry, path, gateway=GATEWAY) == registry
    assert apply_overlay(registry, tmp_path / "missing.toml", gateway=GATEWAY) == registry


def test_simulators_run_only_on_the_embedded_demo_or_when_asked() -> None:
    embedded = load_settings({})
    production = load_settings(
        {
            "INTEGRA_DATABASE_URL": "postgresql://postgres@127.0.0.1/postgres",
            "INTEGRA_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672/",
        }
    )
    assert runs_simulators(embedded, demo=True, simulate=False)
    assert not runs_simulators(embedded, demo=False, simulate=False)  # --no-demo
    assert not runs_simulators(production, demo=True, simulate=False)
    assert not runs_simulators(production, demo=False, simulate=False)
    assert runs_simulators(production, demo=False, simulate=True)
    assert runs_simulators(embedded, demo=False, simulate=True)
    assert demo_mark(demo=True, simulators=True) is DemoMark.SIMULATED
    assert demo_mark(demo=False, simulators=True) is DemoMark.SIMULATED
    assert demo_mark(demo=True, simulators=False) is DemoMark.DATA
    assert demo_mark(demo=False, simulators=False) is None
