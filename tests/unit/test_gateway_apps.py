"""The gateway keeps at most ``max_apps`` tenant apps loaded, releasing the least recently
used one, so hundreds of tenants do not grow a web process without bound."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.test import Client

from gateway.dispatch import TenantDispatcher
from tenants.registry import Tenant, load_registry
from tenants.settings import Settings, load_settings

REGISTRY = Path(__file__).resolve().parents[2] / "tenants" / "registry"


def test_least_recently_used_apps_are_released(tmp_path: Path) -> None:
    settings = load_settings({"INTEGRA_HOME": str(tmp_path)})
    registry = load_registry(REGISTRY)
    built: list[str] = []
    released: list[str] = []

    def factory(_settings: Settings, tenant: Tenant) -> Flask:
        app = Flask(tenant.slug)
        app.add_url_rule("/", "home", lambda: tenant.slug)
        built.append(tenant.slug)
        return app

    dispatcher = TenantDispatcher(
        settings, registry, factory, dispose_app=lambda app: released.append(app.name),
        max_apps=3,
    )  # fmt: skip
    http = Client(dispatcher)
    slugs = [t.slug for t in registry.enabled()][:5]
    for slug in slugs[:3]:
        assert http.get(f"/t/{slug}/").get_data(as_text=True) == slug
    http.get(f"/t/{slugs[0]}/")  # used again: now the most recent
    for slug in slugs[3:]:
        assert http.get(f"/t/{slug}/").get_data(as_text=True) == slug
    assert released == [slugs[1], slugs[2]]
    assert dispatcher.loaded_tenants() == sorted([slugs[0], *slugs[3:]])
    # a released tenant answers again (a new app)
    assert http.get(f"/t/{slugs[1]}/").get_data(as_text=True) == slugs[1]
    assert built.count(slugs[1]) == 2
