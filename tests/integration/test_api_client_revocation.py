"""API clients can be listed and revoked (CLI and admin portal); a revoked client's tokens
answer 401 at once, in every web process (each process checks tokens against the tenant
database on every request: two separately built gateways stand for two processes)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from deploy.cli import main
from deploy.wiring import tenant_dispatcher
from gateway.dispatch import TenantDispatcher
from services.agreements.models import AuditEvent
from services.agreements.models.vocabulary import Role
from tests.fixtures.platform import Platform, obtain_token
from tests.portal.conftest import csrf_of, login, make_user

TENANT = "freiburg"


@pytest.fixture
def two_processes(platform: Platform) -> Iterator[tuple[Client, Client]]:
    made: list[TenantDispatcher] = [
        tenant_dispatcher(platform.settings, platform.registry) for _ in range(2)
    ]
    yield Client(made[0]), Client(made[1])
    for dispatcher in made:
        dispatcher.dispose()


def cli(platform: Platform, *args: str) -> tuple[int, str]:
    env = {"INTEGRA_HOME": str(platform.settings.home)}
    if platform.settings.database_url is not None:
        env["INTEGRA_DATABASE_URL"] = platform.settings.database_url.render_as_string(False)
        env["INTEGRA_DATABASE_PREFIX"] = platform.settings.database_prefix
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_revoked_clients_tokens_are_refused_at_once_in_every_process(
    platform: Platform, two_processes: tuple[Client, Client]
) -> None:
    a, b = two_processes
    client_id, secret = platform.credentials(
        TENANT, Role.COUNSELLOR, platform.tenant(TENANT).offices[0].key
    )
    token = obtain_token(a, TENANT, client_id, secret)
    second = obtain_token(b, TENANT, client_id, secret)
    for http in (a, b):
        assert http.get(f"/t/{TENANT}/api/v1/clients", headers=bearer(token)).status_code == 200

    code, output = cli(platform, "tenant", "api-client", "revoke", TENANT, client_id)
    assert code == 0, output

    for http in (a, b):
        for each in (token, second):
            refused = http.get(f"/t/{TENANT}/api/v1/clients", headers=bearer(each))
            assert refused.status_code == 401
            assert refused.json["code"] == "invalid_token"
    again = a.post(
        f"/t/{TENANT}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    assert again.status_code == 401
    code, output = cli(platform, "tenant", "api-client", "revoke", TENANT, client_id)
    assert code == 1 and "already revoked" in output


def test_the_cli_lists_clients_without_their_secrets(platform: Platform) -> None:
    client_id, secret = platform.credentials(TENANT, Role.EVALUATOR)
    obtain_token(platform.http(), TENANT, client_id, secret)
    code, output = cli(platform, "tenant", "api-client", "list", TENANT, "--json")
    assert code == 0, output
    listed = {entry["client_id"]: entry for entry in json.loads(output)}
    assert listed[client_id]["role"] == "evaluator"
    assert listed[client_id]["active_tokens"] == 1
    assert listed[client_id]["revoked_at"] is None
    assert secret not in output


def test_revoking_an_unknown_client_is_a_clear_error(platform: Platform) -> None:
    code, output = cli(platform, "tenant", "api-client", "revoke", TENANT, "ic_nobody")
    assert code == 1
    assert "Api client not found" in output


def test_a_tenant_admin_revokes_a_client_in_the_portal(sqlite_platform: Platform) -> None:
    platform = sqlite_platform
    client_id, secret = platform.credentials(
        TENANT, Role.COUNSELLOR, platform.tenant(TENANT).offices[0].key
    )
    token = obtain_token(platform.http(), TENANT, client_id, secret)
    http = Client(platform.dispatcher)
    assert login(http, make_user(platform, TENANT, Role.TENANT_ADMIN)).status_code == 302
    page = http.get(f"/t/{TENANT}/admin/api-clients")
    assert page.status_code == 200 and client_id in page.get_data(as_text=True)
    revoked = http.post(
        f"/t/{TENANT}/admin/api-clients/{client_id}/revoke", data={"csrf_token": csrf_of(page)}
    )
    assert revoked.status_code == 302
    api = platform.http().get(f"/t/{TENANT}/api/v1/clients", headers=bearer(token))
    assert api.status_code == 401
    with platform.session(TENANT) as session:
        events = session.query(AuditEvent).filter_by(action="revoke", object_id=client_id).count()
    assert events == 1


def test_a_counsellor_cannot_see_or_revoke_api_clients(sqlite_platform: Platform) -> None:
    platform = sqlite_platform
    client_id, _ = platform.credentials(
        TENANT, Role.COUNSELLOR, platform.tenant(TENANT).offices[0].key
    )
    http = Client(platform.dispatcher)
    assert login(http, make_user(platform, TENANT)).status_code == 302
    page = http.get(f"/t/{TENANT}/")
    assert http.get(f"/t/{TENANT}/admin/api-clients").status_code == 403
    attempt = http.post(
        f"/t/{TENANT}/admin/api-clients/{client_id}/revoke", data={"csrf_token": csrf_of(page)}
    )
    assert attempt.status_code == 403
