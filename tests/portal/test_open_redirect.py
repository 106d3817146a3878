"""``next`` and the language switch redirect only to paths of this tenant, in path mode
(/t/<tenant>/) and host mode (<tenant>.<domain>): never to another host, another tenant, or
with a header injected; never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import pytest
from werkzeug.test import Client, TestResponse

from deploy.wiring import tenant_dispatcher
from tenants.registry import load_registry
from tenants.settings import load_settings
from tests.fixtures.platform import Platform
from tests.portal.conftest import csrf_of, make_user, path_of

DOMAIN = "integra.example"
HOST = f"freiburg.{DOMAIN}"

#: Each is what an attacker would put in ``next``; {root} is the tenant's own prefix.
HOSTILE = [
    "https://evil.example/",
    "//evil.example/",
    "/\t/evil.example/",
    "/\\evil.example/",
    "\\\\evil.example",
    "{root}\r\nSet-Cookie: stolen=1",
    "{root}%0d%0aSet-Cookie:%20stolen=1",
    "{root}../essen/",
    "{root}clients/../../essen/",
    "/t/essen/",
    "http:evil.example",
    " /evil",
    "{root}\x00",
    "javascript:alert(1)",
]


@pytest.fixture
def host_mode(sqlite_platform: Platform) -> Iterator[Client]:
    """The same tenants served by host: https://freiburg.integra.example/."""
    settings = load_settings(
        {"INTEGRA_HOME": str(sqlite_platform.settings.home), "INTEGRA_DOMAIN": DOMAIN}
    )
    dispatcher = tenant_dispatcher(settings, load_registry(settings.tenants_dir))
    yield Client(dispatcher)
    dispatcher.dispose()


def _refused_or_home(response: TestResponse, root: str) -> bool:
    """True when the request was refused outright (400: text no store may carry, such as a
    NUL); otherwise it must be a redirect that stays in the tenant."""
    if response.status_code == 400:
        assert "invalid_text" in response.get_data(as_text=True)
        return True
    assert response.status_code == 302
    _stays_home(response.headers["Location"], root)
    return False


def _stays_home(location: str, root: str) -> None:
    parts = urlsplit(location)
    assert parts.netloc in ("", "localhost", HOST), location
    assert parts.path.startswith(root), location
    assert "\r" not in location and "\n" not in location


@pytest.mark.parametrize("attack", HOSTILE)
def test_the_language_switch_never_leaves_the_tenant_by_path(http: Client, attack: str) -> None:
    root = "/t/freiburg/"
    response = http.get(f"{root}language/en?next={quote(attack.format(root=root), safe='')}")
    if not _refused_or_home(response, root):
        assert path_of(response) == root  # the dashboard, not a cleaned-up attack


@pytest.mark.parametrize("attack", HOSTILE)
def test_the_language_switch_never_leaves_the_tenant_by_host(
    host_mode: Client, attack: str
) -> None:
    response = host_mode.get(
        f"/language/en?next={quote(attack.format(root='/'), safe='')}",
        headers={"Host": HOST},
    )
    if not _refused_or_home(response, "/"):
        assert path_of(response) == "/"


def test_a_path_of_the_tenant_is_kept(http: Client, host_mode: Client) -> None:
    by_path = http.get("/t/freiburg/language/en?next=/t/freiburg/clients%3Fq%3DAmina%2520H")
    assert path_of(by_path) == "/t/freiburg/clients?q=Amina%20H"
    by_host = host_mode.get("/language/de?next=/clients", headers={"Host": HOST})
    assert path_of(by_host) == "/clients"


@pytest.mark.parametrize("attack", ["https://evil.example/", "/\t/evil.example/", "/t/essen/"])
def test_after_login_next_leads_only_into_the_tenant(
    sqlite_platform: Platform, http: Client, attack: str
) -> None:
    """The login stores ``next`` in its signed transaction; the callback's redirect is the
    dashboard when ``next`` was hostile."""
    user = make_user(sqlite_platform, "freiburg")
    start = http.get(f"/t/freiburg/login?next={quote(attack, safe='')}")
    authorize = path_of(start)
    form = http.get(authorize)
    answer = http.post(
        authorize,
        data={"csrf_token": csrf_of(form), "username": user.username, "password": user.password},
    )
    done = http.get(path_of(answer))
    assert done.status_code == 302
    _stays_home(done.headers["Location"], "/t/freiburg/")
    assert path_of(done) == "/t/freiburg/"
