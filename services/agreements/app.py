"""``create_app(settings, tenant)``: one Flask app per tenant, bound to that tenant only.

Fixed init order, no I/O here: the engine connects on first use.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from tenants.databases import create_tenant_engine
from tenants.registry import Tenant
from tenants.settings import Settings

from .context import EXTENSION, DemoMark, TenantContext, close_session, tenant_context_of
from .identity.api_auth import init_auth
from .models.name_search import register_sqlite_functions
from .offers.read_api import make_hsds_blueprint
from .portal import make_portal_blueprint
from .portal.errors import http_error_page, wants_json
from .views.api import make_api_blueprint
from .views.errors import IntegraApi, register_error_handlers
from .views.exports import make_exports_blueprint
from .views.figures import make_figures_blueprint
from .views.offers import make_offers_api_blueprint

MAX_REQUEST_BYTES = 1024 * 1024

#: What holds for every operation of the JSON API (the document's ``info.description``).
API_RULES = (
    "Every error answers JSON: a machine `code`, a `message` in German and English (`de`, "
    "`en`) and, for invalid input, `fields` naming each problem. Only POST, PUT and PATCH "
    "read a body: JSON (`Content-Type: application/json`, else 415), at most 1 MiB (else "
    "413), nesting at most 32 levels (else 400). Text may hold tab, line feed and carriage "
    "return but no other control character and no invalid Unicode, in the body or in a query "
    "parameter (else 422 `invalid_text`). An undeclared method answers 405 with `Allow`."
)

#: How the token endpoint answers (it is not an operation of the document).
CLIENT_CREDENTIALS_FLOW = (
    "Client credentials: POST `grant_type=client_credentials` as a form to the token URL, "
    "with the client's id and secret by HTTP Basic or as `client_id` and `client_secret` in "
    "the form; the answer is `{access_token, token_type: Bearer, expires_in}`. Any failed "
    "client authentication answers 401 `{error: invalid_client}` alike. 429 "
    "`too_many_requests` with `Retry-After` (seconds): the client obtained 30 tokens in the "
    "last minute (reuse a token for its lifetime instead), or failed to authenticate several "
    "times (each further failure doubles the wait, up to a cap; never a lock)."
)


def dispose_app(app: Flask) -> None:
    """Close the database pool of an app built by :func:`create_app` (the gateway's hook)."""
    tenant_context_of(app).engine.dispose()


def create_app(
    settings: Settings,
    tenant: Tenant,
    *,
    engine: Engine | None = None,
    demo: DemoMark | None = None,
) -> Flask:
    """The agreement service of one tenant. ``demo``: the portal marks itself a demo (why)."""
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        API_TITLE=f"Integra – {tenant.name}",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
        API_SPEC_OPTIONS={"info": {"description": API_RULES}},
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    engine = engine or create_tenant_engine(settings, tenant)
    register_sqlite_functions(engine)  # name search's pg_trgm equivalent on SQLite
    app.extensions[EXTENSION] = TenantContext(
        settings=settings,
        tenant=tenant,
        engine=engine,
        sessions=sessionmaker(engine, expire_on_commit=False),
        demo=demo,
    )
    app.teardown_appcontext(close_session)
    register_error_handlers(app)
    init_auth(app, settings.token_lifetime)

    api = IntegraApi(
        app,
        spec_kwargs={
            "servers": [{"url": f"/t/{tenant.slug}", "description": tenant.name}],
            "security": [{"oauth2": []}],
        },
    )
    api.page_errors, api.wants_json = http_error_page, wants_json  # HTML outside the API
    api.spec.components.security_scheme(
        "oauth2",
        {
            "type": "oauth2",
            "description": CLIENT_CREDENTIALS_FLOW,
            "flows": {
                "clientCredentials": {"tokenUrl": f"/t/{tenant.slug}/oauth/token", "scopes": {}}
            },
        },
    )
    api_blueprint = make_api_blueprint()
    api_blueprint.register_blueprint(make_offers_api_blueprint())  # nested: shares its auth
    api_blueprint.register_blueprint(make_figures_blueprint())
    api_blueprint.register_blueprint(make_exports_blueprint())
    api.register_blueprint(api_blueprint)
    app.register_blueprint(make_portal_blueprint())
    app.register_blueprint(make_hsds_blueprint())  # the offers, public (HSDS 3 read API)
    return app
