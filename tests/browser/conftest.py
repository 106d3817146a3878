"""The real platform served over HTTP (the gateway in a waitress thread, embedded SQLite
home) and Debian's Chromium driven by Playwright.

Without Chromium or Playwright these tests skip, unless INTEGRA_REQUIRE_SERVICES=1 (CI),
where they fail instead (the pattern of tests.fixtures.services.need_service).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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


@pytest.fixture(scope="session")
def live_url(sqlite_platform: Platform) -> Iterator[str]:
    """The platform's gateway on a free port; stopped and drained at the end."""
    from waitress import wasyncore
    from waitress.server import create_server

    connections: dict[int, Any] = {}
    server: Any = create_server(
        sqlite_platform.dispatcher, map=connections, host="127.0.0.1", port=0, threads=4
    )
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            wasyncore.loop(timeout=0.2, map=connections, count=1)

    thread = threading.Thread(target=serve, name="integra-browser-tests", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    stop.set()
    thread.join(timeout=5)
    for channel in list(connections.values()):
        channel.close()
    server.task_dispatcher.shutdown()


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
