"""The portal says when it is a demo: simulated partner agencies, or demo cases with real ones;
a production installation shows nothing of the kind."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from deploy.wiring import tenant_dispatcher
from services.agreements.context import DemoMark
from services.agreements.portal.session import LANG_COOKIE
from tests.fixtures.platform import Platform


@pytest.mark.parametrize(
    ("mark", "german"),
    [
        (DemoMark.SIMULATED, "Die Partnerstellen sind simuliert"),
        (DemoMark.DATA, "Diese Installation enthält Demo-Fälle"),
        (None, None),
    ],
)
def test_the_login_page_marks_a_demo(
    sqlite_platform: Platform, mark: DemoMark | None, german: str | None
) -> None:
    dispatcher = tenant_dispatcher(sqlite_platform.settings, sqlite_platform.registry, demo=mark)
    try:
        page = Client(dispatcher).get("/t/freiburg/login", follow_redirects=True)
        text = page.get_data(as_text=True)
        assert page.status_code == 200
        if mark is None:
            assert "demo-banner" not in text and "demo-badge" not in text
            return
        assert f'data-demo="{mark}"' in text and 'class="demo-badge"' in text
        assert german is not None and german in text  # German first
        client = Client(dispatcher)
        client.set_cookie(LANG_COOKIE, "en", domain="localhost")
        english = client.get("/t/freiburg/login", follow_redirects=True)
        assert "Do not enter real personal data." in english.get_data(as_text=True)
    finally:
        dispatcher.dispose()
