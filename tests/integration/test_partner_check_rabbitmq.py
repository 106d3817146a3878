"""`integra partner check` on the AMQP channel against the real RabbitMQ: the queue pair and
the connector's right to publish are checked without anything reaching the agency's queue."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.wiring import bus_transport
from messaging.signing import ensure_tenant_keys
from messaging.topology import AgencyPair
from messaging.transports.base import Transport
from services.connectors.channels.probes import ProbeOutcome
from services.connectors.channels.registry import check_partner
from tenants.registry import BusEntry, PartnerEntry, Tenant, load_registry
from tenants.settings import load_settings
from tests.fixtures.live import SHIPPED_REGISTRY
from tests.fixtures.services import AMQP_URL, need_service

KIND = "arbeitsagentur"  # Freiburg's employment agency uses the AMQP channel


@pytest.fixture(scope="module")
def bus(
    tmp_path_factory: pytest.TempPathFactory, run_id: str
) -> Iterator[tuple[Transport, Tenant, PartnerEntry]]:
    need_service("RabbitMQ", "127.0.0.1", 5672)
    home: Path = tmp_path_factory.mktemp("probe")
    settings = load_settings(
        {
            "INTEGRA_HOME": str(home),
            "INTEGRA_BROKER_URL": AMQP_URL,
            "INTEGRA_BROKER_VHOST": f"iprobe-{run_id}",
        }
    )
    tenant = load_registry(SHIPPED_REGISTRY).require("freiburg")
    # Broker users are named after the slug: a slug of this run's own, so that parallel runs
    # provisioning Freiburg neither change these users' passwords nor delete them.
    tenant = dataclasses.replace(
        tenant, slug=f"probe-{run_id}", bus=BusEntry(vhost=f"iprobe-{run_id}.freiburg")
    )
    ensure_tenant_keys(settings, tenant.slug)
    transport = bus_transport(settings)
    transport.provision(tenant)
    partner = tenant.partner(KIND)
    assert partner is not None and partner.channel == "amqp"
    try:
        yield transport, tenant, partner
    finally:
        transport.deprovision(tenant)


def test_the_connector_may_publish_and_nothing_reaches_the_agency(
    bus: tuple[Transport, Tenant, PartnerEntry],
) -> None:
    transport, tenant, partner = bus
    result = check_partner(transport, tenant, partner)
    assert result.outcome is ProbeOutcome.OK, result
    assert "nothing delivered" in result.detail
    again = check_partner(transport, tenant, partner)
    assert f"{AgencyPair(KIND, tenant.slug).referrals}: 0 waiting" in " ".join(again.notes)


def test_a_user_without_the_right_to_publish_is_refused(
    bus: tuple[Transport, Tenant, PartnerEntry], monkeypatch: pytest.MonkeyPatch
) -> None:
    transport, tenant, partner = bus
    # the agency's own user may not publish referrals to the agency
    agency_user = transport.url(tenant, AgencyPair(KIND, tenant.slug).user_party)
    monkeypatch.setattr(transport, "url", lambda *_a, **_k: agency_user)
    result = check_partner(transport, tenant, partner)
    assert result.outcome is ProbeOutcome.REFUSED, result
    assert result.outcome.exit_code == 5


def test_an_unprovisioned_tenant_is_not_configured(
    bus: tuple[Transport, Tenant, PartnerEntry],
) -> None:
    transport, tenant, partner = bus
    elsewhere = dataclasses.replace(
        tenant, slug=f"{tenant.slug}-none", bus=BusEntry(vhost=f"{tenant.vhost}-none")
    )
    result = check_partner(transport, elsewhere, dataclasses.replace(partner))
    assert result.outcome is ProbeOutcome.NOT_CONFIGURED, result
