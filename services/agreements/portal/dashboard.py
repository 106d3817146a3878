"""The counsellor's start page."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from ..context import commit, db_session
from ..db import utcnow
from ..models.vocabulary import CASE_ROLES, Role
from . import queries
from .clients import staff_names_of_office
from .session import current_user


def register(bp: Blueprint) -> None:
    @bp.get("/")
    def dashboard() -> ResponseReturnValue:
        principal = g.principal
        if principal.role not in CASE_ROLES:
            if principal.role == Role.TENANT_ADMIN:
                return redirect(url_for("portal.admin_users"))
            if principal.role == Role.EVALUATOR:
                return redirect(url_for("portal.figures_page"))
            return render_template("portal/no_cases.html")
        session, user = db_session(), current_user()
        assert user is not None  # the portal's pages need a login
        page = render_template(
            "portal/dashboard.html",
            my_cases=queries.my_cases(session, principal, user.id),
            office_cases=queries.office_cases(session, principal, user.id),
            staff_names=staff_names_of_office(),
            reviews_due=queries.reviews_due(session, principal, utcnow().date()),
            waiting=queries.referrals_waiting(session, principal),
            delayed=queries.delayed_deliveries(session, principal),
            not_sent=queries.referrals_not_sent(session, principal),
            consents_expiring=queries.consents_expiring(session, principal),
        )
        commit()
        return page
