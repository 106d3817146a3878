"""`integra partner check`: each channel's probe tells reachable and authenticated apart from
not configured, unreachable and refused, and never hands the agency case data."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from deploy.cli import main
from messaging.signing import BusKeyring, ensure_tenant_keys
from messaging.transports.embedded import EmbeddedTransport
from services.connectors.agency.protocol import PROBE_HEADER
from services.connectors.agency.webhook_client import probe_answer, verify_integra_message
from services.connectors.channels.probes import ProbeOutcome
from services.connectors.channels.registry import check_partner
from services.connectors.partner_keys import ensure_partner_key
from tenants.registry import Tenant, load_registry
from tenants.settings import Settings
from tests.fixtures.live import SHIPPED_REGISTRY, free_port

from .test_webhook import make_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def tenant(settings: Settings) -> Tenant:
    ensure_tenant_keys(settings, "freiburg")
    return load_registry(SHIPPED_REGISTRY).require("freiburg")


class AgencyEndpoint(BaseHTTPRequestHandler):
    """An agency's endpoint: answers the probe as docs/partners.md tells agencies to."""

    jwks: dict[str, Any] = {}
    mode = "verify"  # verify | refuse | no_probe
    seen: list[tuple[str, dict[str, str], bytes]] = []

    def do_OPTIONS(self) -> None:
        self.seen.append(("OPTIONS", dict(self.headers), b""))
        if self.mode == "no_probe":
            status = 405
        elif self.mode == "refuse":
            status = 401
        else:
            status = probe_answer(self.headers.get(PROBE_HEADER), self.jwks, "jobcenter")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        self.seen.append(("POST", dict(self.headers), b""))
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint(settings: Settings, tenant: Tenant) -> Iterator[str]:
    keys = BusKeyring.load(settings, tenant.slug)
    AgencyEndpoint.jwks = keys.verification_keys.as_dict(private=False)
    AgencyEndpoint.mode = "verify"
    AgencyEndpoint.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), AgencyEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/integra"
    server.shutdown()
    server.server_close()
    thread.join(5)


def _webhook(tenant: Tenant, url: str | None) -> tuple[Tenant, Any]:
    partner = dataclasses.replace(tenant.partner("jobcenter"), webhook_url=url)  # type: ignore[arg-type]
    return tenant, partner


def test_webhook_probe_reaches_a_partner_that_accepts_our_signature(
    settings: Settings, tenant: Tenant, endpoint: str
) -> None:
    ensure_partner_key(settings, tenant.slug, "jobcenter")
    result = check_partner(EmbeddedTransport(settings), *_webhook(tenant, endpoint))
    assert result.outcome is ProbeOutcome.OK, result
    assert result.outcome.exit_code == 0
    assert any("not https" in note for note in result.notes)
    [(method, headers, _)] = AgencyEndpoint.seen  # only the probe: no POST, no case data
    assert method == "OPTIONS"
    probe = verify_integra_message(headers[PROBE_HEADER], AgencyEndpoint.jwks, kind="jobcenter")
    assert probe["type"] == "partner.probe" and probe["tenant"] == "freiburg"
    assert "payload" not in probe  # nothing of a case


@pytest.mark.parametrize(("mode", "says"), [("refuse", "does not accept"), ("no_probe", "405")])
def test_webhook_probe_refused_or_unconfirmed(
    settings: Settings, tenant: Tenant, endpoint: str, mode: str, says: str
) -> None:
    ensure_partner_key(settings, tenant.slug, "jobcenter")
    AgencyEndpoint.mode = mode
    result = check_partner(EmbeddedTransport(settings), *_webhook(tenant, endpoint))
    assert result.outcome is ProbeOutcome.REFUSED and result.outcome.exit_code == 5
    assert says in result.detail


def test_webhook_probe_signed_by_another_tenant_is_refused_by_the_agency(
    settings: Settings, tenant: Tenant, endpoint: str
) -> None:
    ensure_tenant_keys(settings, "essen")
    AgencyEndpoint.jwks = BusKeyring.load(settings, "essen").verification_keys.as_dict(
        private=False
    )
    ensure_partner_key(settings, tenant.slug, "jobcenter")
    result = check_partner(EmbeddedTransport(settings), *_webhook(tenant, endpoint))
    assert result.outcome is ProbeOutcome.REFUSED


def test_webhook_probe_without_url_key_or_listener(settings: Settings, tenant: Tenant) -> None:
    transport = EmbeddedTransport(settings)
    result = check_partner(transport, *_webhook(tenant, None))
    assert result.outcome is ProbeOutcome.NOT_CONFIGURED and "no webhook_url" in result.detail
    url = f"http://127.0.0.1:{free_port()}/integra"
    result = check_partner(transport, *_webhook(tenant, url))
    assert result.outcome is ProbeOutcome.NOT_CONFIGURED
    assert "integra partner key register" in result.detail
    ensure_partner_key(settings, tenant.slug, "jobcenter")
    result = check_partner(transport, *_webhook(tenant, url))
    assert result.outcome is ProbeOutcome.UNREACHABLE and result.outcome.exit_code == 4


def test_folder_probe(settings: Settings, tenant: Tenant) -> None:
    transport = EmbeddedTransport(settings)
    partner = tenant.partner("auslaenderbehoerde")
    assert partner is not None and partner.channel == "xml_file"
    result = check_partner(transport, tenant, partner)
    assert result.outcome is ProbeOutcome.UNREACHABLE and "does not exist" in result.detail
    base = settings.var_dir / "exchange" / "freiburg" / "auslaenderbehoerde"
    for sub in ("outgoing", "incoming"):
        (base / sub).mkdir(parents=True)
    result = check_partner(transport, tenant, partner)
    assert result.outcome is ProbeOutcome.OK, result
    assert sorted(p.name for p in (base / "outgoing").iterdir()) == []  # nothing left behind
    mounted = settings.home / "mnt" / "abh"
    (mounted / "outgoing").mkdir(parents=True)
    (mounted / "incoming").mkdir()
    named = dataclasses.replace(partner, exchange_folder="mnt/abh")
    result = check_partner(transport, tenant, named)
    assert result.outcome is ProbeOutcome.OK and str(mounted) in result.detail
    if os.geteuid() != 0:  # root writes anywhere
        (mounted / "outgoing").chmod(0o500)
        result = check_partner(transport, tenant, named)
        assert result.outcome is ProbeOutcome.REFUSED


def test_amqp_probe_on_the_embedded_bus(settings: Settings, tenant: Tenant) -> None:
    transport = EmbeddedTransport(settings)
    partner = tenant.partner("arbeitsagentur")
    assert partner is not None and partner.channel == "amqp"
    transport.provision(tenant)
    result = check_partner(transport, tenant, partner)
    assert result.outcome is ProbeOutcome.OK, result
    assert "agency.arbeitsagentur.referrals: 0 waiting" in " ".join(result.notes)


def test_the_cli_names_the_outcome_and_exits_with_its_code(tmp_path: Path) -> None:
    env = {"INTEGRA_HOME": str(tmp_path)}
    runner = CliRunner()
    result = runner.invoke(main, ["partner", "check", "freiburg", "jobcenter"], env=env)
    assert result.exit_code == 3, result.output
    assert "freiburg/jobcenter over webhook: not configured" in result.output
    result = runner.invoke(main, ["partner", "check", "freiburg", "jobcenter", "--json"], env=env)
    assert result.exit_code == 3
    assert json.loads(result.stdout)["outcome"] == "not_configured"
    result = runner.invoke(main, ["partner", "check", "atlantis", "jobcenter"], env=env)
    assert result.exit_code == 1 and "unknown tenant 'atlantis'" in result.output
    result = runner.invoke(main, ["partner", "check", "freiburg", "sozialamt"], env=env)
    assert result.exit_code == 2  # usage: not an agency kind


def test_the_cli_registers_an_agency_key_and_prints_the_tenant_jwks(tmp_path: Path) -> None:
    from joserfc.jwk import ECKey

    env = {"INTEGRA_HOME": str(tmp_path)}
    settings = make_settings(tmp_path)
    ensure_tenant_keys(settings, "freiburg")
    runner = CliRunner()
    key = ECKey.generate_key("P-256", parameters={"kid": "jc-freiburg-1"}, private=True)
    private = tmp_path / "private.json"
    private.write_text(json.dumps(key.as_dict(private=True)))
    result = runner.invoke(main, ["partner", "key", "register", "freiburg", "jobcenter",
                                  str(private)], env=env)  # fmt: skip
    assert result.exit_code == 1 and "private key" in result.output
    public = tmp_path / "public.json"
    public.write_text(json.dumps(key.as_dict(private=False)))
    result = runner.invoke(main, ["partner", "key", "register", "freiburg", "jobcenter",
                                  str(public)], env=env)  # fmt: skip
    assert result.exit_code == 0 and "jc-freiburg-1" in result.output
    result = runner.invoke(main, ["partner", "jwks", "freiburg"], env=env)
    assert result.exit_code == 0
    jwks = json.loads(result.stdout)
    assert jwks == BusKeyring.load(settings, "freiburg").verification_keys.as_dict(private=False)
    assert all("d" not in k for k in jwks["keys"])
