"""The operator CLI (``integra``) as an operator runs it, on the real PostgreSQL.

Each command is invoked through click with its configuration in the environment, exactly as
the console script reads it; API clients it creates must then work at the tenant's token
endpoint, served by the real gateway.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool
from werkzeug.test import Client as WerkzeugClient

from deploy.cli import main
from deploy.provisioning import deprovision_tenant
from deploy.wiring import tenant_dispatcher
from services.agreements.models import ApiClient
from tenants.databases import create_tenant_engine, drop_prefix, tenant_identifier
from tenants.registry import Registry, load_registry
from tenants.settings import Settings, load_settings
from tests.fixtures.live import SHIPPED_REGISTRY
from tests.fixtures.platform import obtain_token

pytestmark = pytest.mark.postgres

#: Tenants this module provisions on PostgreSQL (and drops again at the end).
TOUCHED = ("freiburg", "essen", "wetzlar", "stendal", "hamm")


@pytest.fixture(scope="module")
def cli_env(
    postgres_url: str, run_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The environment of every invocation: a private INTEGRA_HOME, registry copy (deleting a
    tenant removes its registry file) and database prefix."""
    home: Path = tmp_path_factory.mktemp("cli-home")
    env = {
        "INTEGRA_HOME": str(home),
        "INTEGRA_TENANTS_DIR": str(shutil.copytree(SHIPPED_REGISTRY, home / "registry")),
        "INTEGRA_DATABASE_URL": postgres_url,
        "INTEGRA_DATABASE_PREFIX": f"clitest_{run_id}",
    }
    yield env
    settings = load_settings(env)
    registry = load_registry(SHIPPED_REGISTRY)
    for slug in TOUCHED:
        deprovision_tenant(settings, registry.require(slug))
    leftovers = tenant_schemas(settings, settings.database_prefix)
    dropped = drop_prefix(settings)
    assert leftovers == [], f"dropping the tenants left these schemas behind: {leftovers}"
    assert dropped in ([], [settings.database_prefix]), f"and these databases: {dropped}"


@pytest.fixture(scope="module")
def settings(cli_env: dict[str, str]) -> Settings:
    return load_settings(cli_env)


@pytest.fixture(scope="module")
def registry(settings: Settings) -> Registry:
    return load_registry(settings.tenants_dir)


@pytest.fixture(scope="module")
def http(settings: Settings, registry: Registry) -> Iterator[WerkzeugClient]:
    """The real gateway over WSGI, reading the same databases as the CLI."""
    dispatcher = tenant_dispatcher(settings, registry)
    yield WerkzeugClient(dispatcher)
    dispatcher.dispose()


def integra(env: dict[str, str], *args: str) -> Result:
    """Run ``integra ARGS`` with exactly this configuration (no stdin)."""
    runner = CliRunner()
    keep = {key: None for key in ("INTEGRA_CONFIG", "INTEGRA_TENANTS_DIR", "INTEGRA_BROKER_URL")}
    return runner.invoke(main, list(args), env={**keep, **env}, catch_exceptions=False)


def api_client_count(settings: Settings, registry: Registry, slug: str) -> int:
    engine = create_tenant_engine(settings, registry.require(slug), pool_size=1)
    try:
        with Session(engine) as session:
            return session.scalar(select(func.count()).select_from(ApiClient)) or 0
    finally:
        engine.dispose()


def schema_exists(settings: Settings, name: str) -> bool:
    """Whether the run's shared database holds a tenant schema ``name``."""
    assert settings.database_url is not None
    engine = create_engine(
        settings.database_url.set(database=settings.database_prefix), poolclass=NullPool
    )
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_namespace WHERE nspname = :n"), {"n": name}
            ).scalar()
    except OperationalError:  # the shared database itself does not exist (yet)
        return False
    finally:
        engine.dispose()
    return bool(found)


def test_tenants_list_names_all_pilot_municipalities(cli_env: dict[str, str]) -> None:
    result = integra(cli_env, "tenants", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].split()[:4] == ["slug", "state", "kind", "offices"]
    rows = lines[1:]
    assert len(rows) == 18
    assert any(r.startswith("freiburg ") and "Stadt Freiburg im Breisgau" in r for r in rows)
    assert any(r.startswith("mayen-koblenz ") and " district " in r for r in rows)


def test_tenants_list_json(cli_env: dict[str, str]) -> None:
    result = integra(cli_env, "tenants", "list", "--json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    assert len(rows) == 18
    slugs = [row["slug"] for row in rows]
    assert slugs == sorted(slugs)
    assert {"freiburg", "berlin-tempelhof-schoeneberg", "saarbruecken", "stendal"} <= set(slugs)
    freiburg = next(row for row in rows if row["slug"] == "freiburg")
    assert freiburg == {
        "slug": "freiburg",
        "name": "Stadt Freiburg im Breisgau",
        "federal_state": "BW",
        "kind": "city",
        "enabled": True,
        "offices": 3,
        "partners": {
            "auslaenderbehoerde": "xml_file",
            "jobcenter": "webhook",
            "arbeitsagentur": "amqp",
        },
    }
    assert all(row["offices"] >= 1 and row["enabled"] for row in rows)


def test_tenant_show(cli_env: dict[str, str]) -> None:
    result = integra(cli_env, "tenant", "show", "freiburg")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["slug"] == "freiburg"
    assert shown["vhost"] == "integra.freiburg"
    assert [o["key"] for o in shown["offices"]] == ["mbe-caritas", "mbe-diakonie", "jmd-ib"]
    assert {p["kind"] for p in shown["partners"]} == {
        "auslaenderbehoerde",
        "jobcenter",
        "arbeitsagentur",
    }


def test_api_client_create_json_obtains_a_token(
    cli_env: dict[str, str], http: WerkzeugClient
) -> None:
    result = integra(
        cli_env,
        "tenant",
        "api-client",
        "create",
        "freiburg",
        "--role",
        "counsellor",
        "--office",
        "mbe-caritas",
        "--json",
    )
    assert result.exit_code == 0, result.output
    issued = json.loads(result.stdout)
    assert set(issued) == {"client_id", "client_secret"}

    token = obtain_token(http, "freiburg", issued["client_id"], issued["client_secret"])
    response = http.get("/t/freiburg/api/v1/clients", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    # The secret is only good for the tenant that issued it.
    integra(cli_env, "migrate", "essen")
    refused = http.post(
        "/t/essen/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(issued["client_id"], issued["client_secret"]),
    )
    assert refused.status_code == 401


def test_api_client_create_plain_output(cli_env: dict[str, str]) -> None:
    result = integra(
        cli_env, "tenant", "api-client", "create", "freiburg", "--role", "tenant_admin"
    )
    assert result.exit_code == 0, result.output
    assert "client_id:     ic_" in result.stdout
    assert "client_secret: " in result.stdout
    assert "/t/freiburg/oauth/token" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--role", "counsellor"), "Role counsellor needs an office (--office)."),
        (("--role", "office_lead"), "Role office_lead needs an office (--office)."),
        (
            ("--role", "counsellor", "--office", "no-such-office"),
            "Unknown office 'no-such-office'; known: jmd-ib, mbe-caritas, mbe-diakonie.",
        ),
        (
            ("--role", "tenant_admin", "--office", "mbe-caritas"),
            "Role tenant_admin is not bound to an office.",
        ),
        (
            ("--role", "evaluator", "--office", "mbe-caritas"),
            "Role evaluator is not bound to an office.",
        ),
    ],
    ids=[
        "counsellor-without-office",
        "office-lead-without-office",
        "unknown-office",
        "tenant-admin-with-office",
        "evaluator-with-office",
    ],
)
def test_api_client_create_refuses_and_creates_nothing(
    cli_env: dict[str, str],
    settings: Settings,
    registry: Registry,
    args: tuple[str, ...],
    message: str,
) -> None:
    integra(cli_env, "migrate", "freiburg")
    before = api_client_count(settings, registry, "freiburg")
    result = integra(cli_env, "tenant", "api-client", "create", "freiburg", *args, "--json")
    assert result.exit_code != 0
    assert result.stdout == ""
    assert message in result.stderr
    assert api_client_count(settings, registry, "freiburg") == before


def test_api_client_create_unknown_tenant(cli_env: dict[str, str], settings: Settings) -> None:
    result = integra(
        cli_env, "tenant", "api-client", "create", "atlantis", "--role", "tenant_admin", "--json"
    )
    assert result.exit_code != 0
    assert result.stdout == ""
    assert "unknown tenant 'atlantis'" in result.stderr
    assert "freiburg" in result.stderr  # names the known tenants
    assert not schema_exists(settings, f"{settings.database_prefix}_atlantis")


def test_api_client_create_unknown_role(cli_env: dict[str, str]) -> None:
    result = integra(cli_env, "tenant", "api-client", "create", "freiburg", "--role", "root")
    assert result.exit_code == 2
    assert "'root' is not one of" in result.stderr


def test_tenant_show_unknown_tenant(cli_env: dict[str, str]) -> None:
    result = integra(cli_env, "tenant", "show", "atlantis")
    assert result.exit_code == 1
    assert "unknown tenant 'atlantis'" in result.stderr


def test_migrate_is_idempotent(
    cli_env: dict[str, str], settings: Settings, registry: Registry
) -> None:
    """First run creates the databases (in parallel worker processes for several tenants),
    the second only confirms the schema; neither touches the data."""
    first = integra(cli_env, "migrate", "wetzlar", "stendal")
    assert first.exit_code == 0, first.output
    assert _states(first.stdout) == {"wetzlar": "created", "stendal": "created"}
    for slug in ("wetzlar", "stendal"):
        assert schema_exists(settings, tenant_identifier(settings, registry.require(slug)))

    created = integra(
        cli_env, "tenant", "api-client", "create", "wetzlar", "--role", "tenant_admin"
    )
    assert created.exit_code == 0, created.output
    revisions = _revisions(first.stdout)

    again = integra(cli_env, "migrate", "wetzlar", "stendal")
    assert again.exit_code == 0, again.output
    assert _states(again.stdout) == {"wetzlar": "up to date", "stendal": "up to date"}
    assert _revisions(again.stdout) == revisions
    single = integra(cli_env, "migrate", "wetzlar")
    assert single.exit_code == 0, single.output
    assert _states(single.stdout) == {"wetzlar": "up to date"}
    assert api_client_count(settings, registry, "wetzlar") == 1


def test_tenant_delete_drops_every_schema_of_the_tenant(
    cli_env: dict[str, str], settings: Settings
) -> None:
    created = integra(cli_env, "migrate", "hamm")
    assert created.exit_code == 0, created.output
    prefix = f"{settings.database_prefix}_hamm"
    assert prefix in tenant_schemas(settings, prefix)

    refused = integra(cli_env, "tenant", "delete", "hamm")
    assert refused.exit_code == 1
    assert "refusing without --yes" in refused.stderr
    assert prefix in tenant_schemas(settings, prefix)

    deleted = integra(cli_env, "tenant", "delete", "hamm", "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert tenant_schemas(settings, prefix) == []
    assert not (settings.tenants_dir / "hamm.toml").exists()
    assert "hamm" not in integra(cli_env, "tenants", "list").stdout


def tenant_schemas(settings: Settings, name: str) -> list[str]:
    """The schema NAME and those of the tenant's services beside it (NAME_<service>) in the
    run's shared database."""
    assert settings.database_url is not None
    engine = create_engine(
        settings.database_url.set(database=settings.database_prefix), poolclass=NullPool
    )
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    text(
                        "SELECT nspname FROM pg_namespace WHERE nspname = :n OR nspname LIKE :p"
                        " ORDER BY nspname"
                    ),
                    {"n": name, "p": name.replace("_", r"\_") + r"\_%"},
                ).scalars()
            )
    except OperationalError:  # the shared database itself does not exist (yet)
        return []
    finally:
        engine.dispose()


def test_migrate_unknown_tenant(cli_env: dict[str, str]) -> None:
    result = integra(cli_env, "migrate", "atlantis")
    assert result.exit_code == 1
    assert "unknown tenant 'atlantis'" in result.stderr


def _rows(output: str) -> list[list[str]]:
    # "<slug padded to 32> <state padded to 10> schema <revision>"
    return [[line[:32].strip(), line[33:43].strip(), line[44:]] for line in output.splitlines()]


def _states(output: str) -> dict[str, str]:
    return {slug: state for slug, state, _ in _rows(output)}


def _revisions(output: str) -> dict[str, str]:
    revisions = {slug: rest for slug, _, rest in _rows(output)}
    assert all(rest.startswith("schema ") and rest != "schema None" for rest in revisions.values())
    return revisions
