"""The real platform served over HTTP (the gateway in a waitress thread, embedded SQLite
home) and Debian's Chromium driven by Playwright. ``live_url`` serves the session's
``sqlite_platform`` alone; ``serviced_platform`` is a home of its own with the bus, the
connectors and the partner simulators running, for the referral's closed loop.

Without Chromium or Playwright these tests skip, unless INTEGRA_REQUIRE_SERVICES=1 (CI),
where they fail instead (the pattern of tests.fixtures.services.need_service).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deploy.provisioning import provision_tenant
from deploy.services import TenantServices
from deploy.wiring import bus_transport, tenant_dispatcher
from gateway.dispatch import TenantDispatcher
from services.connectors.simulators import SimulationRules
from tenants.registry import load_registry
from tenants.settings import load_settings
from tests.fixtures.platform import Platform
from tests.fixtures.services import services_required

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
VIEWPORT = {"width": 1280, "height": 800}
SERVICED_TENANT = "freiburg"


def _missing(what: str) -> None:
    message = f"{what} is not available"
    if services_required():
        pytest.fail(message + " (INTEGRA_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        _missing(f"{name} (apt-get install poppler-utils)")
    assert path is not None
    return path


@contextmanager
def serving(dispatcher: TenantDispatcher) -> Iterator[str]:
    """``dispatcher`` on a free port in a waitress thread; stopped and drained on exit."""
    from waitress import wasyncore
    from waitress.server import create_server

    connections: dict[int, Any] = {}
    server: Any = create_server(dispatcher, map=connections, host="127.0.0.1", port=0, threads=4)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            wasyncore.loop(timeout=0.2, map=connections, count=1)

    thread = threading.Thread(target=serve, name="integra-browser-tests", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for channel in list(connections.values()):
            channel.close()
        server.task_dispatcher.shutdown()


@pytest.fixture(scope="session")
def live_url(sqlite_platform: Platform) -> Iterator[str]:
    """The platform's gateway on a free port, without background services: referrals stay
    where the portal put them (``requested``)."""
    with serving(sqlite_platform.dispatcher) as url:
        yield url


#: Simulated agencies answer as fast as the rules allow; what remains is the embedded bus's
#: polling (about a second per hop: relay, connector, callback, relay, consumer).
FAST_AGENCIES = {"decision_delay": 0.05, "schedule_delay": 0.05, "start_delay": 0.05,
                 "complete_delay": 0.05}  # fmt: skip


@dataclass
class ServicedPlatform:
    """A platform of its own with everything `integra up` runs beside the gateway."""

    platform: Platform
    url: str
    services: dict[str, TenantServices]


@pytest.fixture(scope="module")
def serviced_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServicedPlatform]:
    """Freiburg in an embedded home of its own (not ``sqlite_platform``: its referrals must
    stay put for the other tests) with the relay, the consumer, a connector per partner
    agency and the partner simulators, started as ``deploy.runner.start_background_services``
    starts them, and stopped (every thread they started joined) when the module is done."""
    home = tmp_path_factory.mktemp("serviced-home")
    settings = load_settings({"INTEGRA_HOME": str(home)})
    registry = load_registry(settings.tenants_dir)
    tenant = registry.require(SERVICED_TENANT)
    provision_tenant(settings, tenant)
    platform = Platform(settings, registry, tenant_dispatcher(settings, registry))
    rules = {
        partner.kind: SimulationRules.for_kind(partner.kind, **FAST_AGENCIES)
        for partner in tenant.partners
    }
    before = set(threading.enumerate())
    started: set[threading.Thread] = set()
    services: dict[str, TenantServices] = {}
    try:
        with serving(platform.dispatcher) as url:
            try:
                services[tenant.slug] = TenantServices(
                    bus_transport(settings), tenant, url, rules=rules
                )
                services[tenant.slug].start(platform.dispatcher)
                started = set(threading.enumerate()) - before
                yield ServicedPlatform(platform, url, services)
            finally:
                # As `integra up` shuts down: every service is told first, then each is awaited.
                for tenant_services in services.values():
                    tenant_services.signal_stop()
                for tenant_services in services.values():
                    tenant_services.stop()
    finally:
        platform.dispatcher.dispose()
        for engine in platform.engines.values():
            engine.dispose()
    # TenantServices.stop joins the bus and connector threads but not the simulators' own;
    # none of the threads started here may outlive the module (the browser's are not ours).
    for thread in started:
        thread.join(timeout=5)
    alive = sorted(thread.name for thread in started if thread.is_alive())
    assert not alive, f"background threads still running after stop: {alive}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright (pip install playwright)")
    if not CHROMIUM.exists():
        _missing(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser profile (no cookies) at 1280x800, German as an office PC would be."""
    context = browser.new_context(viewport=VIEWPORT, locale="de-DE", accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
