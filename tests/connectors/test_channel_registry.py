"""Channels and simulated agencies are found by the channel's name: every declared channel has
both, each builds what its name says, and an unknown name is refused clearly."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from messaging.signing import BusKeyring, ensure_tenant_keys
from messaging.transports.embedded import EmbeddedTransport
from services.connectors.channels.registry import CHANNEL_SPECS, build_channel, channel_spec
from services.connectors.simulator_adapters import (
    SIMULATOR_BUILDERS,
    SimulationSite,
    simulate_agency,
)
from services.connectors.simulators import SimulatedAgency
from tenants.registry import PartnerEntry, Tenant, load_registry
from tenants.settings import Settings
from tenants.vocabulary import Channel
from tests.fixtures.live import SHIPPED_REGISTRY

from .test_webhook import make_settings

BASE_URL = "http://127.0.0.1:8000"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def tenant() -> Tenant:
    tenant = load_registry(SHIPPED_REGISTRY).require("freiburg")
    assert {p.channel for p in tenant.partners} == set(Channel)  # one partner per channel
    return tenant


def test_every_channel_has_a_builder_and_a_simulated_agency() -> None:
    assert set(CHANNEL_SPECS) == set(Channel)
    assert set(SIMULATOR_BUILDERS) == set(Channel)


def test_only_the_webhook_channel_takes_answers_by_callback() -> None:
    pushing = {name for name, spec in CHANNEL_SPECS.items() if spec.callback_app is not None}
    assert pushing == {Channel.WEBHOOK}


def test_each_partner_gets_the_channel_its_registry_entry_names(
    settings: Settings, tenant: Tenant
) -> None:
    transport = EmbeddedTransport(settings)
    for partner in tenant.partners:
        channel = build_channel(transport, tenant, partner)
        try:
            assert channel.name == partner.channel
        finally:
            channel.close()


def test_an_unknown_channel_is_refused_by_name(settings: Settings, tenant: Tenant) -> None:
    pigeon = dataclasses.replace(tenant.partners[0], channel="pigeon")
    with pytest.raises(ValueError, match="unknown channel 'pigeon'; expected one of"):
        build_channel(EmbeddedTransport(settings), tenant, pigeon)
    with pytest.raises(ValueError, match="unknown channel 'pigeon'"):
        channel_spec("pigeon")


def _site(settings: Settings, tenant: Tenant, partner: PartnerEntry) -> SimulationSite:
    ensure_tenant_keys(settings, tenant.slug)
    keys = BusKeyring.load(settings, tenant.slug)
    return SimulationSite(EmbeddedTransport(settings), tenant, partner, keys, BASE_URL)


def test_a_simulated_agency_plays_on_its_partners_channel(
    settings: Settings, tenant: Tenant
) -> None:
    for partner in tenant.partners:
        agency = SimulatedAgency(partner.kind)
        adapter = simulate_agency(_site(settings, tenant, partner), agency)
        assert adapter.agency is agency
        if partner.channel == Channel.WEBHOOK:
            # The connector reaches the simulator's own endpoint, served by the gateway.
            assert adapter.endpoint is not None
            assert adapter.endpoint.path == f"/sim/freiburg/{partner.kind}"
            assert adapter.endpoint.url == f"{BASE_URL}/sim/freiburg/{partner.kind}"
            assert adapter.partner == dataclasses.replace(partner, webhook_url=adapter.endpoint.url)
        else:
            assert adapter.endpoint is None
            assert adapter.partner == partner


def test_a_simulated_agency_on_an_unknown_channel_is_refused(
    settings: Settings, tenant: Tenant
) -> None:
    pigeon = dataclasses.replace(tenant.partners[0], channel="pigeon")
    with pytest.raises(ValueError, match="unknown channel 'pigeon'"):
        simulate_agency(_site(settings, tenant, pigeon), SimulatedAgency(pigeon.kind))
