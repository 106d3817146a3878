"""Errors on portal pages are pages (in the user's language), not the API's JSON."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_babel import get_locale

from ..context import db_session
from ..errors import DomainError


class PortalError(Exception):
    """A refusal that is not a domain rule (e.g. a missing CSRF token)."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


def register_portal_error_handlers(bp: Blueprint) -> None:
    @bp.errorhandler(DomainError)
    def _domain(error: DomainError) -> ResponseReturnValue:
        db_session().rollback()
        message = error.en if str(get_locale()) == "en" else error.de
        return render_template("portal/error.html", message=message, code=error.code), error.status

    @bp.errorhandler(PortalError)
    def _portal(error: PortalError) -> ResponseReturnValue:
        return render_template("portal/error.html", message=None, code=error.code), error.status
