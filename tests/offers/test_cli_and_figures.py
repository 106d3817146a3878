"""`integra offers import|export` on a provisioned embedded tenant, and the offer figures."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from deploy.cli import main
from deploy.provisioning import provision_tenant
from services.agreements.db import utcnow
from services.agreements.offers.models import OfferService
from services.agreements.offers.operations.figures import offer_figures
from tenants.databases import create_tenant_engine
from tenants.registry import load_registry
from tenants.settings import load_settings
from tests.fixtures.factories import agreement_body, client_body
from tests.fixtures.live import registry_copy
from tests.fixtures.platform import Platform

from .helpers import example, location, organization, service


def _env(home: Path) -> dict[str, str]:
    registry = registry_copy(home / "registry", ("freiburg",), "unused")
    return {"INTEGRA_HOME": str(home), "INTEGRA_TENANTS_DIR": str(registry)}


def _services(env: dict[str, str]) -> int:
    settings = load_settings(env)
    engine = create_tenant_engine(settings, load_registry(settings.tenants_dir).require("freiburg"))
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(OfferService)) or 0
    finally:
        engine.dispose()


def test_import_and_export_commands(tmp_path: Path) -> None:
    env = _env(tmp_path)
    settings = load_settings(env)
    provision_tenant(settings, load_registry(settings.tenants_dir).require("freiburg"))
    runner = CliRunner()
    source = tmp_path / "org.json"
    source.write_text(json.dumps(example("organization_full")))
    done = runner.invoke(main, ["offers", "import", "freiburg", str(source)], env=env)
    assert done.exit_code == 0, done.output
    assert "1 service created" in done.output

    out = tmp_path / "export"
    exported = runner.invoke(main, ["offers", "export", "freiburg", "--out", str(out)], env=env)
    assert exported.exit_code == 0, exported.output
    assert (out / "organizations.json").is_file() and (out / "tabular" / "services.csv").is_file()
    again = runner.invoke(main, ["offers", "import", "freiburg", str(out / "tabular")], env=env)
    assert again.exit_code == 0 and "1 service updated" in again.output, again.output

    here = location("79098")
    bad = organization(
        "Kita Sonnenhügel",
        [here],
        [service("Kita", "kita", at=[here]), service("Kita 2", "kita", at=[here])],
    )
    bad["services"][1]["status"] = "open"
    source.write_text(json.dumps(bad))
    refused = runner.invoke(main, ["offers", "import", "freiburg", str(source)], env=env)
    assert refused.exit_code == 1
    assert "services[1].status" in refused.output and "nothing was applied" in refused.output
    assert _services(env) == 1
    unknown = runner.invoke(main, ["offers", "export", "atlantis", "--out", str(out)], env=env)
    assert unknown.exit_code == 1 and "unknown tenant" in unknown.output


def test_figures_count_suggested_linked_and_used_per_field(platform: Platform) -> None:
    from tests.offers.test_matching import load, suggest, token

    slug, word = "freiburg", token()
    here = location("79098")
    course = service(f"{word} Integrationskurs", "integrationskurs", at=[here])
    load(platform, organization("Sprachschule Lindenhof gGmbH", [here], [course]))
    office = platform.tenant(slug).offices[2]  # an office of its own: figures start at zero
    api = platform.api(slug, office_key=office.key)
    with platform.session(slug) as session:
        from services.agreements.models import Office

        office_id = session.scalar(select(Office.id).where(Office.key == office.key))
    today = utcnow().date()

    def figures() -> dict[str, tuple[int, int, int]]:
        with platform.session(slug) as session:
            found = offer_figures(session, date_from=today, date_to=today, office_id=office_id)
        return {f: (v.suggested, v.linked, v.used) for f, v in found.items()}

    before = figures()
    client = api.ok("POST", "clients", client_body())
    suggest(api, client["id"], "language", word)
    suggest(api, client["id"], "language", word)  # the same offer shown again counts once
    body = agreement_body(goals=1)
    body["goals"][0]["steps"][0]["offer_id"] = course["id"]
    agreement = api.ok("POST", f"clients/{client['id']}/agreements", body)
    api.ok("PUT", f"agreements/{agreement['id']}", body)  # saved again: still one link
    for party in ("client", "counsellor"):
        api.ok("POST", f"agreements/{agreement['id']}/sign", {"party": party})
    step = api.ok("GET", f"agreements/{agreement['id']}")["goals"][0]["steps"][0]
    assert step["offer_id"] == course["id"]
    api.ok(
        "POST",
        f"agreements/{agreement['id']}/reviews",
        {"steps": [{"step_id": step["id"], "result": "done"}]},
    )
    after = figures()
    s, li, u = before["language"]
    assert after["language"] == (s + 1, li + 1, u + 1)
    assert {f: v for f, v in after.items() if f != "language"} == {
        f: v for f, v in before.items() if f != "language"
    }
    with platform.session(slug) as session:
        yesterday = offer_figures(
            session,
            date_from=today - timedelta(days=2),
            date_to=today - timedelta(days=1),
            office_id=office_id,
        )
    assert all((v.suggested, v.linked, v.used) == (0, 0, 0) for v in yesterday.values())

    unknown = api.post(f"clients/{client['id']}/agreements", json=body)
    assert unknown.status_code == 409  # an open agreement exists; links are checked below
    body["goals"][0]["steps"][0]["offer_id"] = "00000000-0000-4000-8000-000000000000"
    amend = api.post(f"agreements/{agreement['id']}/amendments", json={"reason": "x", **body})
    assert amend.status_code == 422 and amend.json["code"] == "offer_unknown"
    assert "offer_id" in json.dumps(amend.json["fields"])
