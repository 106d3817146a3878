"""The staff portal: server-rendered pages (Jinja, Flask-Babel; German first, English
switchable) whose views call the same operations as the JSON API and commit at the edge.

``make_portal_blueprint()`` is all ``create_app`` registers: on registration the blueprint
also installs, on that tenant's app, Flask-Babel, the security headers and the tenant's
built-in OpenID Connect provider.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask
from flask_babel import Babel, format_date, format_datetime, format_decimal

from ..identity.provider import make_provider_blueprint
from ..identity.web_security import install_security_headers
from ..offers.portal import make_offer_pages_blueprint
from . import admin, agreements, client_forms, clients, dashboard, figures, login
from .errors import register_portal_error_handlers
from .session import formatting_locale, install_session_handling

HERE = Path(__file__).resolve().parent


def make_portal_blueprint() -> Blueprint:
    """Built per app, so no state is shared between tenants' apps."""
    bp = Blueprint(
        "portal",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/assets",
    )

    @bp.record_once
    def _init_app(state: Any) -> None:
        app: Flask = state.app
        app.config.setdefault("BABEL_DEFAULT_LOCALE", "de")
        app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(HERE / "translations"))
        app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Berlin")
        Babel(app, locale_selector=formatting_locale)
        app.jinja_env.filters.update(
            format_date=format_date, format_datetime=format_datetime, format_number=format_decimal
        )
        install_security_headers(app)
        app.register_blueprint(make_provider_blueprint())

    install_session_handling(bp)
    register_portal_error_handlers(bp)
    for module in (login, dashboard, clients, client_forms, agreements, admin, figures):
        module.register(bp)
    bp.register_blueprint(make_offer_pages_blueprint())  # nested: shares login and CSRF
    return bp
