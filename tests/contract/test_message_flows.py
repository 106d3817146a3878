"""Every message type has a producer and a handler; every declared queue has a consumer.

In the style of GOV.UK Notify's ``test_all_queues_used``: the declarations (the contracts,
the shared vocabulary's agency answer and agency-bound types, the topology's queues) are held
against the code that really runs. Handlers and consumers are read off the services exactly
as ``integra up`` wires them (``deploy.services.TenantServices`` on the embedded bus, with the
partner simulators); producers are found in each room's source: a message type literal passed
to a call (``_report(.., "delivery.failed", ..)``, ``Envelope(type="..")``) or given as the
``"type"`` of a message dict. A mapping table that merely names a type is not a producer.

It found that the agreement service had no handler for ``status.answer`` (the connectors
accepted it from agencies and the agreement service dead-lettered it) and that nobody sent
``status.query``.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.provisioning import provision_tenant
from deploy.services import TenantServices
from deploy.wiring import bus_transport
from messaging import topology
from messaging.contracts import MESSAGE_TYPES
from tenants.registry import Tenant, load_registry
from tenants.settings import load_settings
from tenants.vocabulary import AGENCY_ANSWER_TYPES, AGENCY_BOUND_TYPES, Channel

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "tenants" / "registry"
#: Freiburg's partners use all three channels (XML files, webhook, AMQP).
TENANT = "freiburg"


@dataclass
class Wired:
    tenant: Tenant
    services: TenantServices

    @property
    def agreement_handlers(self) -> set[str]:
        assert self.services.agreement_bus is not None
        return set(self.services.agreement_bus.consumer.handlers)

    @property
    def connector_handlers(self) -> dict[str, set[str]]:
        return {
            kind: set(runtime.consumer.handlers)
            for kind, runtime in self.services.connectors.items()
        }

    @property
    def consumed_queues(self) -> set[str]:
        assert self.services.agreement_bus is not None
        consumers = [self.services.agreement_bus.consumer]
        consumers += [runtime.consumer for runtime in self.services.connectors.values()]
        return {consumer.queue.name for consumer in consumers}


@pytest.fixture(scope="module")
def wired(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wired]:
    """Freiburg's services on the embedded bus, started and stopped as ``integra up`` does."""
    home = tmp_path_factory.mktemp("flows")
    (home / "registry").mkdir()
    shutil.copy(SHIPPED / f"{TENANT}.toml", home / "registry")
    settings = load_settings(
        {"INTEGRA_HOME": str(home), "INTEGRA_TENANTS_DIR": str(home / "registry")}
    )
    tenant = load_registry(settings.tenants_dir).require(TENANT)
    provision_tenant(settings, tenant)
    services = TenantServices(bus_transport(settings), tenant, "http://127.0.0.1:9")
    services.start(None)
    try:
        yield Wired(tenant, services)
    finally:
        services.stop()


def _produced_in(room: Path) -> set[str]:
    """Message types the code under ``room`` produces (see the module docstring)."""
    found: set[str] = set()
    for path in room.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            values: list[ast.expr] = []
            if isinstance(node, ast.Call):
                values = [*node.args, *(kw.value for kw in node.keywords)]
            elif isinstance(node, ast.Dict):
                values = [
                    value
                    for key, value in zip(node.keys, node.values, strict=True)
                    if isinstance(key, ast.Constant) and key.value == "type"
                ]
            for value in values:
                if isinstance(value, ast.Constant) and value.value in MESSAGE_TYPES:
                    found.add(value.value)
    return found


def test_every_agency_answer_has_a_handler_in_the_agreement_service(wired: Wired) -> None:
    """What a connector accepts from an agency it forwards to the agreement service, which
    must be able to apply it (otherwise it is dead-lettered after the agency was told 'ok')."""
    assert set(AGENCY_ANSWER_TYPES) - wired.agreement_handlers == set()


def test_a_connector_takes_from_the_bus_only_what_goes_to_its_agency(wired: Wired) -> None:
    for kind, handled in wired.connector_handlers.items():
        assert handled <= AGENCY_BOUND_TYPES, kind


def test_every_message_type_has_a_handler_or_goes_to_an_agency(wired: Wired) -> None:
    handled = wired.agreement_handlers.union(*wired.connector_handlers.values())
    assert MESSAGE_TYPES - handled - AGENCY_BOUND_TYPES == set()
    assert AGENCY_BOUND_TYPES <= MESSAGE_TYPES
    assert set(AGENCY_ANSWER_TYPES) <= MESSAGE_TYPES


def test_every_message_type_has_a_producer(wired: Wired) -> None:
    """The agreement service produces what the connectors handle, the connectors produce
    what the agreement service handles beyond the agencies' answers, and whatever goes to an
    agency without coming from the agreement service is produced by a connector."""
    by_agreements = _produced_in(ROOT / "services" / "agreements")
    by_connectors = _produced_in(ROOT / "services" / "connectors" / "channels") | _produced_in(
        ROOT / "services" / "connectors"
    )
    connector_handled = set().union(*wired.connector_handlers.values())
    assert connector_handled - by_agreements == set()
    assert wired.agreement_handlers - set(AGENCY_ANSWER_TYPES) - by_connectors == set()
    assert AGENCY_BOUND_TYPES - connector_handled - by_connectors == set()
    by_agencies = set(AGENCY_ANSWER_TYPES)
    assert MESSAGE_TYPES - by_agreements - by_connectors - by_agencies == set()


def test_every_declared_queue_has_a_consumer(wired: Wired) -> None:
    """Each party's inbox is consumed by the service ``integra up`` starts for it; each AMQP
    agency's answers queue by its connector's channel, its referrals queue by the agency (here
    the partner simulator)."""
    assert {spec.name for spec in topology.queues(wired.tenant)} == wired.consumed_queues
    for pair in topology.agency_pairs(wired.tenant):
        runtime = wired.services.connectors[pair.kind]
        assert runtime.partner.channel == Channel.AMQP
        assert getattr(runtime.channel, "pair", None) == pair
        assert getattr(wired.services.simulators[pair.kind], "pair", None) == pair
