"""Isolation, tried on every route of the API, on PostgreSQL and SQLite.

The routes come from the app's own url_map (cross-checked with its OpenAPI document): every
rule under /api/ and /oauth/ must have a case below, so a new API endpoint without a case
fails ``test_every_api_route_has_a_case``. (The staff portal and the built-in identity
provider live in the same app under other paths; they authenticate with sessions, not bearer
tokens, and are not part of this file.) For every route:

- another tenant's valid token is refused with 401, and nothing is read or written;
- ids of the same tenant's other office answer 404 (like unknown ids), and lists omit them;
- the roles without case access (evaluator, tenant_admin) get 403 on case data;
- no token, a garbage token, an expired token, a revoked token or a revoked client get 401.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool
from werkzeug.test import Client, TestResponse

from deploy.wiring import tenant_dispatcher
from services.agreements.db import utcnow
from services.agreements.models import AccessToken, ApiClient
from services.agreements.models.vocabulary import Role
from services.agreements.operations.api_clients import hash_secret
from tenants.databases import login_role, shard_url, tenant_identifier
from tenants.registry import Registry
from tests.fixtures.cases import OfficeCase, caller, row_counts, seed_office_case
from tests.fixtures.factories import agreement_body, assessment_body, client_body, consent_body
from tests.fixtures.platform import Api, Platform

TENANT = "freiburg"
OTHER_TENANT = "essen"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
API_PREFIXES = ("/api/", "/oauth/")

Body = Callable[[OfficeCase], Any]


@dataclass(frozen=True)
class Route:
    """How to call one (method, rule) of the tenant's app, with the ids of one case.

    ``not_found``: the code answered for ids of the other office (None: the route takes no
    id). ``case_data``: only counsellors and office leads may call it. ``public``: needs no
    token (then ``public_status`` is its answer to anyone).
    """

    path: str
    body: Body | None = None
    not_found: str | None = None
    case_data: bool = True
    public: bool = False
    public_status: int = 200


def _referral_body(ids: OfficeCase) -> dict[str, Any]:
    return {
        "client_id": ids.client_id,
        "recipient_kind": "jobcenter",
        "purpose": "work",
        "consent_id": ids.consent_id,
        "step_id": ids.step_id,
    }


ROUTES: dict[tuple[str, str], Route] = {
    # Not behind the bearer token, by design: the token endpoint authenticates clients by
    # their secret; the OpenAPI document describes the API and holds no tenant data.
    ("POST", "/oauth/token"): Route("/oauth/token", public=True, public_status=401),
    ("GET", "/api/v1/openapi.json"): Route("/api/v1/openapi.json", public=True),
    ("GET", "/api/v1/offices"): Route("/api/v1/offices", case_data=False),
    ("GET", "/api/v1/partners"): Route("/api/v1/partners", case_data=False),
    # aggregates only (no person in them): tenant admins and evaluators read them too
    ("GET", "/api/v1/figures"): Route("/api/v1/figures", case_data=False),
    ("GET", "/api/v1/clients/<uuid:client_id>/export"): Route(
        "/api/v1/clients/{client_id}/export", not_found="client_not_found"
    ),
    ("GET", "/api/v1/clients"): Route("/api/v1/clients"),
    ("POST", "/api/v1/clients"): Route(
        "/api/v1/clients",
        lambda ids: client_body(office_id=ids.office_id),
        # An office id is no case id: GET /offices lists them all. Creating a case in
        # another office is refused as invalid input (see test_no_case_in_another_office).
    ),
    ("GET", "/api/v1/clients/<uuid:client_id>"): Route(
        "/api/v1/clients/{client_id}", not_found="client_not_found"
    ),
    ("PATCH", "/api/v1/clients/<uuid:client_id>"): Route(
        "/api/v1/clients/{client_id}", lambda ids: {"given_name": "Geändert"}, "client_not_found"
    ),
    ("GET", "/api/v1/clients/<uuid:client_id>/consents"): Route(
        "/api/v1/clients/{client_id}/consents", not_found="client_not_found"
    ),
    ("GET", "/api/v1/clients/<uuid:client_id>/suggestions"): Route(
        "/api/v1/clients/{client_id}/suggestions?field=language", not_found="client_not_found"
    ),
    ("POST", "/api/v1/clients/<uuid:client_id>/consents"): Route(
        "/api/v1/clients/{client_id}/consents", lambda ids: consent_body(), "client_not_found"
    ),
    ("POST", "/api/v1/consents/<uuid:consent_id>/revoke"): Route(
        "/api/v1/consents/{consent_id}/revoke", lambda ids: {}, "consent_not_found"
    ),
    ("GET", "/api/v1/clients/<uuid:client_id>/assessments"): Route(
        "/api/v1/clients/{client_id}/assessments", not_found="client_not_found"
    ),
    ("POST", "/api/v1/clients/<uuid:client_id>/assessments"): Route(
        "/api/v1/clients/{client_id}/assessments",
        lambda ids: assessment_body(),
        "client_not_found",
    ),
    ("GET", "/api/v1/clients/<uuid:client_id>/agreements"): Route(
        "/api/v1/clients/{client_id}/agreements", not_found="client_not_found"
    ),
    ("POST", "/api/v1/clients/<uuid:client_id>/agreements"): Route(
        "/api/v1/clients/{client_id}/agreements",
        lambda ids: agreement_body(1, 1),
        "client_not_found",
    ),
    ("GET", "/api/v1/agreements/<uuid:agreement_id>"): Route(
        "/api/v1/agreements/{agreement_id}", not_found="agreement_not_found"
    ),
    ("PUT", "/api/v1/agreements/<uuid:agreement_id>"): Route(
        "/api/v1/agreements/{agreement_id}",
        lambda ids: agreement_body(1, 1),
        "agreement_not_found",
    ),
    ("DELETE", "/api/v1/agreements/<uuid:agreement_id>"): Route(
        "/api/v1/agreements/{agreement_id}", not_found="agreement_not_found"
    ),
    ("POST", "/api/v1/agreements/<uuid:agreement_id>/sign"): Route(
        "/api/v1/agreements/{agreement_id}/sign",
        lambda ids: {"party": "client"},
        "agreement_not_found",
    ),
    ("POST", "/api/v1/agreements/<uuid:agreement_id>/reviews"): Route(
        "/api/v1/agreements/{agreement_id}/reviews",
        lambda ids: {"steps": [{"step_id": ids.step_id, "result": "done"}], "obstacles": ""},
        "agreement_not_found",
    ),
    ("POST", "/api/v1/agreements/<uuid:agreement_id>/amendments"): Route(
        "/api/v1/agreements/{agreement_id}/amendments",
        lambda ids: {"reason": "Fortschreibung"},
        "agreement_not_found",
    ),
    ("POST", "/api/v1/agreements/<uuid:agreement_id>/close"): Route(
        "/api/v1/agreements/{agreement_id}/close",
        lambda ids: {
            "outcome": "goals_reached",
            "balance": "fertig",
            "goals": [{"goal_id": ids.goal_id, "attainment": "reached"}],
        },
        "agreement_not_found",
    ),
    ("GET", "/api/v1/referrals"): Route("/api/v1/referrals"),
    ("POST", "/api/v1/referrals"): Route(
        "/api/v1/referrals", _referral_body, not_found="client_not_found"
    ),
    ("GET", "/api/v1/referrals/<uuid:referral_id>"): Route(
        "/api/v1/referrals/{referral_id}", not_found="referral_not_found"
    ),
    ("POST", "/api/v1/referrals/<uuid:referral_id>/withdraw"): Route(
        "/api/v1/referrals/{referral_id}/withdraw",
        lambda ids: {"reason": "erledigt"},
        "referral_not_found",
    ),
}

PROTECTED = {key: route for key, route in ROUTES.items() if not route.public}


def app_routes(platform: Platform) -> set[tuple[str, str]]:
    app = platform.dispatcher.tenant_app(TENANT)
    assert app is not None
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(API_PREFIXES)
        for method in (rule.methods or set()) - IGNORED_METHODS
    }


def call(
    http_api: Api, key: tuple[str, str], ids: OfficeCase, headers: dict[str, str] | None = None
) -> TestResponse:
    """Call a route of ``http_api``'s tenant with the ids of ``ids`` (path relative to /t/x)."""
    method, _ = key
    route = ROUTES[key]
    path = route.path.format(**dataclasses.asdict(ids))
    kwargs: dict[str, Any] = {"method": method, "headers": headers or {}}
    if route.body is not None:
        kwargs["json"] = route.body(ids)
    return http_api.http.open(f"/t/{http_api.slug}{path}", **kwargs)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    platform: Platform
    own: Api  # counsellor of freiburg's first office
    own_case: OfficeCase
    other_case: OfficeCase  # a case of freiburg's second office


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def world(request: pytest.FixtureRequest) -> World:
    name = "pg_platform" if request.param == "postgresql" else "sqlite_platform"
    platform: Platform = request.getfixturevalue(name)
    offices = platform.tenant(TENANT).offices
    own = caller(platform, TENANT, Role.COUNSELLOR, offices[0].key).api
    other = caller(platform, TENANT, Role.COUNSELLOR, offices[1].key).api
    return World(platform, own, seed_office_case(own), seed_office_case(other))


def snapshot(platform: Platform) -> dict[str, dict[str, int]]:
    return {slug: row_counts(platform, slug) for slug in (TENANT, OTHER_TENANT)}


def describe(key: tuple[str, str], response: TestResponse) -> str:
    return f"{key[0]} {key[1]}: {response.status_code} {response.get_data(as_text=True)[:200]}"


# -- the route table -----------------------------------------------------------------------------


def test_every_api_route_has_a_case(world: World) -> None:
    routes = app_routes(world.platform)
    missing = routes - set(ROUTES)
    assert not missing, f"API routes without an isolation case: {sorted(missing)}"
    stale = set(ROUTES) - routes
    assert not stale, f"cases for routes that no longer exist: {sorted(stale)}"


def test_the_openapi_document_lists_exactly_the_protected_routes(world: World) -> None:
    """A cross-check of the url_map from the other side: what integrators see documented."""
    document = world.own.ok("GET", "openapi.json")
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method != "parameters"
    }
    protected = {(method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)) for method, rule in PROTECTED}
    assert documented == protected


# -- another tenant's token ------------------------------------------------------------------------


def test_another_tenants_token_is_refused_everywhere(world: World) -> None:
    platform = world.platform
    essen = caller(platform, OTHER_TENANT)
    essen_id, essen_secret = platform.credentials(OTHER_TENANT, Role.COUNSELLOR, "mbe-awo")
    before = snapshot(platform)
    failures = []
    for key, route in ROUTES.items():
        if key == ("POST", "/oauth/token"):
            # essen's own client credentials, presented to freiburg's token endpoint
            basic = base64.b64encode(f"{essen_id}:{essen_secret}".encode()).decode()
            response = world.own.http.post(
                f"/t/{TENANT}/oauth/token",
                data={"grant_type": "client_credentials"},
                headers={"Authorization": f"Basic {basic}"},
            )
            if response.status_code != 401 or response.json["error"] != "invalid_client":
                failures.append(describe(key, response))
            continue
        response = call(world.own, key, world.own_case, bearer(essen.api.token))
        expected = route.public_status if route.public else 401
        if response.status_code != expected or (
            not route.public and response.json["code"] != "invalid_token"
        ):
            failures.append(describe(key, response))
    assert not failures, "\n".join(failures)
    assert snapshot(platform) == before, "a refused request read or wrote something"


def test_another_tenants_ids_are_unknown(world: World) -> None:
    """essen's counsellor with freiburg's ids, at essen: 404 (the ids exist nowhere there)."""
    essen = caller(world.platform, OTHER_TENANT).api
    before = snapshot(world.platform)
    failures = []
    for key, route in PROTECTED.items():
        if route.not_found is None:
            continue
        response = call(essen, key, world.own_case, bearer(essen.token))
        if response.status_code != 404 or response.json["code"] != route.not_found:
            failures.append(describe(key, response))
    assert not failures, "\n".join(failures)
    assert snapshot(world.platform) == before


# -- the other office of the same tenant ---------------------------------------------------------


@pytest.mark.parametrize("role", [Role.COUNSELLOR, Role.OFFICE_LEAD])
def test_ids_of_the_other_office_are_unknown(world: World, role: Role) -> None:
    platform = world.platform
    api = caller(platform, TENANT, role, platform.tenant(TENANT).offices[0].key).api
    before = snapshot(platform)
    failures = []
    for key, route in PROTECTED.items():
        if route.not_found is None:
            continue
        response = call(api, key, world.other_case, bearer(api.token))
        if response.status_code != 404 or response.json["code"] != route.not_found:
            failures.append(describe(key, response))
    assert not failures, "\n".join(failures)
    assert snapshot(platform) == before, "a request with another office's ids changed data"


@pytest.mark.parametrize(
    ("field", "code"),
    [("client_id", "client_not_found"), ("consent_id", "consent_not_found")],
)
def test_referral_body_ids_of_the_other_office_are_unknown(
    world: World, field: str, code: str
) -> None:
    """Own client with the other office's consent, or the other office's client: 404."""
    body = _referral_body(world.own_case)
    body[field] = getattr(world.other_case, field)
    before = snapshot(world.platform)
    response = world.own.post("referrals", body)
    assert response.status_code == 404 and response.json["code"] == code, describe(
        ("POST", "/api/v1/referrals"), response
    )
    assert snapshot(world.platform) == before


def test_steps_and_goals_of_the_other_office_do_not_belong_to_own_agreements(
    world: World,
) -> None:
    own, other = world.own_case, world.other_case
    before = snapshot(world.platform)
    review = world.own.post(
        f"agreements/{own.agreement_id}/reviews",
        {"steps": [{"step_id": other.step_id, "result": "done"}]},
    )
    assert review.status_code == 422 and review.json["code"] == "step_not_in_agreement"
    close = world.own.post(
        f"agreements/{own.agreement_id}/close",
        {
            "outcome": "goals_reached",
            "balance": "x",
            "goals": [{"goal_id": other.goal_id, "attainment": "reached"}],
        },
    )
    assert close.status_code == 422 and close.json["code"] == "goal_not_in_agreement"
    body = _referral_body(own) | {"step_id": other.step_id}
    referral = world.own.post("referrals", body)
    assert referral.status_code == 422
    assert referral.json["code"] == "step_not_in_active_agreement"
    assert snapshot(world.platform) == before


def test_no_case_in_another_office(world: World) -> None:
    before = snapshot(world.platform)
    response = world.own.post("clients", client_body(office_id=world.other_case.office_id))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.json["code"] == "office_not_allowed"
    assert "office_id" in response.json["fields"]
    assert snapshot(world.platform) == before


def test_lists_do_not_show_the_other_offices_cases(world: World) -> None:
    own, other = world.own_case, world.other_case
    clients = world.own.ok("GET", "clients?page_size=100")
    listed = {c["id"] for c in clients["items"]}
    assert own.client_id in listed or clients["total"] > 100
    assert other.client_id not in listed
    assert world.own.ok("GET", f"clients?q={other.family_name}")["total"] == 0
    assert world.own.ok("GET", f"clients?q={own.family_name}")["total"] == 1

    referrals = world.own.ok("GET", "referrals?page_size=100")
    assert other.referral_id not in {r["id"] for r in referrals["items"]}
    filtered = world.own.ok("GET", f"referrals?client_id={other.client_id}")
    assert filtered == {"items": [], "total": 0, "page": 1, "page_size": 25}
    own_filtered = world.own.ok("GET", f"referrals?client_id={own.client_id}")
    assert [r["id"] for r in own_filtered["items"]] == [own.referral_id]


# -- roles without case access -------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.EVALUATOR, Role.TENANT_ADMIN])
def test_roles_without_case_access_get_403_on_case_data(world: World, role: Role) -> None:
    api = caller(world.platform, TENANT, role).api
    before = snapshot(world.platform)
    failures = []
    for key, route in PROTECTED.items():
        response = call(api, key, world.own_case, bearer(api.token))
        if route.case_data:
            ok = response.status_code == 403 and response.json["code"] == "role_not_allowed"
        else:
            ok = response.status_code == 200
        if not ok:
            failures.append(describe(key, response))
    assert not failures, "\n".join(failures)
    assert snapshot(world.platform) == before, "a refused role read or wrote case data"


# -- tenants that are not there ------------------------------------------------------------------


def test_an_unknown_tenant_is_404(world: World) -> None:
    http = world.platform.http()
    for path in ("/t/atlantis/api/v1/clients", "/t/atlantis/oauth/token", "/t//api/v1/clients"):
        response = http.get(path, headers=bearer(world.own.token))
        assert response.status_code == 404, path
        assert response.json["code"] == "tenant_not_found"


def test_a_disabled_tenant_is_404(world: World) -> None:
    platform = world.platform
    tenants = dict(platform.registry.tenants)
    tenants[TENANT] = dataclasses.replace(tenants[TENANT], enabled=False)
    dispatcher = tenant_dispatcher(platform.settings, Registry(tenants))
    response = Client(dispatcher).get(
        f"/t/{TENANT}/api/v1/clients", headers=bearer(world.own.token)
    )
    assert response.status_code == 404 and response.json["code"] == "tenant_not_found"
    assert dispatcher.loaded_tenants() == []


# -- missing, garbage, expired and revoked credentials -------------------------------------------


def _expire_token(platform: Platform, token: str) -> None:
    with platform.session(TENANT) as session, session.begin():
        session.execute(
            update(AccessToken)
            .where(AccessToken.token_hash == hash_secret(token))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )


def _revoke_token(platform: Platform, token: str) -> None:
    with platform.session(TENANT) as session, session.begin():
        session.execute(
            update(AccessToken)
            .where(AccessToken.token_hash == hash_secret(token))
            .values(revoked_at=utcnow())
        )


def _revoke_client(platform: Platform, token: str) -> None:
    with platform.session(TENANT) as session, session.begin():
        client_id = session.scalar(
            select(AccessToken.client_id).where(AccessToken.token_hash == hash_secret(token))
        )
        session.execute(
            update(ApiClient).where(ApiClient.client_id == client_id).values(revoked_at=utcnow())
        )


def _after(change: Callable[[Platform, str], None]) -> Callable[[Platform, Api], dict[str, str]]:
    def headers(platform: Platform, api: Api) -> dict[str, str]:
        change(platform, api.token)
        return bearer(api.token)

    return headers


CREDENTIALS: dict[str, Callable[[Platform, Api], dict[str, str]]] = {
    "no-token": lambda platform, api: {},
    "garbage-token": lambda platform, api: bearer("garbage"),
    "empty-bearer": lambda platform, api: {"Authorization": "Bearer "},
    "basic-instead-of-bearer": lambda platform, api: {"Authorization": "Basic Zm9vOmJhcg=="},
    "expired-token": _after(_expire_token),
    "revoked-token": _after(_revoke_token),
    "revoked-client": _after(_revoke_client),
}


@pytest.mark.parametrize("kind", list(CREDENTIALS))
def test_missing_or_invalid_credentials_get_401_everywhere(world: World, kind: str) -> None:
    platform = world.platform
    victim = caller(platform, TENANT).api
    assert victim.get("offices").status_code == 200  # the token worked before
    headers = CREDENTIALS[kind](platform, victim)
    before = snapshot(platform)
    failures = []
    for key in PROTECTED:
        response = call(world.own, key, world.own_case, headers)
        www = response.headers.get("WWW-Authenticate", "")
        if (
            response.status_code != 401
            or response.json["code"] not in ("unauthenticated", "invalid_token")
            or not www.lower().startswith("bearer")
        ):
            failures.append(describe(key, response))
    assert not failures, "\n".join(failures)
    assert snapshot(platform) == before


# -- the databases themselves (PostgreSQL) -------------------------------------------------------


def test_a_tenants_role_cannot_read_another_tenants_schema(pg_platform: Platform) -> None:
    """Isolation by construction: every transaction of freiburg's engine runs as freiburg's
    role, and PostgreSQL refuses it essen's schema and freiburg's own connector schema; the
    platform's login role reads no tenant's tables by itself, tenant roles cannot log in, and
    none of them is a superuser that could grant itself access."""
    settings = pg_platform.settings
    own, foreign = pg_platform.tenant(TENANT), pg_platform.tenant(OTHER_TENANT)
    foreign_schema = tenant_identifier(settings, foreign)
    connector_schema = tenant_identifier(settings, own, "aa")
    with pg_platform.engine(TENANT).connect() as connection:
        assert connection.execute(text("SELECT current_user")).scalar() == tenant_identifier(
            settings, own
        )
        assert connection.execute(text("SELECT count(*) FROM clients")).scalar() is not None
    for schema in (foreign_schema, connector_schema):
        with (
            pg_platform.engine(TENANT).connect() as connection,
            pytest.raises(ProgrammingError, match=r"permission denied for (schema|table)"),
        ):
            connection.execute(text(f'SELECT count(*) FROM "{schema}".clients'))  # noqa: S608
    plain = create_engine(shard_url(settings, own), poolclass=NullPool)
    try:
        own_schema = tenant_identifier(settings, own)
        with (
            plain.connect() as connection,
            pytest.raises(ProgrammingError, match=r"permission denied for (schema|table)"),
        ):
            connection.execute(text(f'SELECT count(*) FROM "{own_schema}".clients'))  # noqa: S608
        with plain.connect() as connection:
            flags = connection.execute(
                text(
                    "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolinherit"
                    " FROM pg_roles WHERE rolname IN (:login, :own, :foreign) ORDER BY rolname"
                ),
                {
                    "login": login_role(settings),
                    "own": tenant_identifier(settings, own),
                    "foreign": foreign_schema,
                },
            ).all()
    finally:
        plain.dispose()
    assert {row.rolname: tuple(row)[1:] for row in flags} == {
        login_role(settings): (False, False, False, True, False),
        tenant_identifier(settings, own): (False, False, False, False, True),
        foreign_schema: (False, False, False, False, True),
    }
