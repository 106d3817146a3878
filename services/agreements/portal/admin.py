"""Tenant administration: staff users and roles; offices and partner agencies as the
tenant's registry file defines them (changed there, by the operator, not here)."""

from __future__ import annotations

import uuid

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..context import commit, db_session, tenant_context
from ..errors import DomainError, NotFound
from ..identity import staff
from ..models import Office, User
from ..models.vocabulary import Role
from ..operations import api_clients, audit, offices, responsible
from . import forms, labels


def _require_admin() -> None:
    g.principal.require_role(Role.TENANT_ADMIN)


def _create_user(session: Session) -> tuple[dict[str, str], bool]:
    """The new-user form: (errors by field, whether the user was created and committed).
    With an external identity provider a user is its subject there (no password here)."""
    try:
        role = Role(forms.text(request.form, "role"))
    except ValueError:
        return forms.flatten_errors({"role": ["unknown role"]}), False
    identity = tenant_context().tenant.identity
    external = None
    if identity.provider == "oidc" and identity.issuer:
        subject = forms.text(request.form, "external_subject")
        if not subject:
            return forms.flatten_errors({"external_subject": ["required"]}), False
        external = (identity.issuer, subject)
    try:
        user = staff.create_user(
            session,
            forms.text(request.form, "username"),
            forms.text(request.form, "display_name"),
            role,
            forms.optional(request.form, "office"),
            None if external else request.form.get("password") or "",
            external=external,
        )
    except DomainError as error:
        session.rollback()
        said = error.en if getattr(get_locale(), "language", "de") == "en" else error.de
        return forms.flatten_errors(error.fields) or {"_": said}, False
    audit.record(session, g.principal, "create", "user", user.id, None, role=str(role))
    commit()
    return {}, True


def _user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user")
    return user


def register(bp: Blueprint) -> None:
    @bp.route("/admin/users", methods=["GET", "POST"])
    def admin_users() -> ResponseReturnValue:
        _require_admin()
        session = db_session()
        errors: dict[str, str] = {}
        if request.method == "POST":
            errors, created = _create_user(session)
            if created:
                return redirect(url_for("portal.admin_users", saved="user_created"))
        users = list(session.scalars(select(User).order_by(User.username)))
        office_names = {o.id: o.name for o in session.scalars(select(Office))}
        html = render_template(
            "portal/admin_users.html", users=users, office_names=office_names,
            offices=offices.list_offices(session), errors=errors, form=request.form,
            labels=labels, roles=list(Role),
            external_provider=tenant_context().tenant.identity.provider == "oidc",
        )  # fmt: skip
        commit()
        return html, (422 if errors else 200)

    @bp.route("/admin/users/<uuid:user_id>/deactivate", methods=["GET", "POST"])
    def admin_user_deactivate(user_id: uuid.UUID) -> ResponseReturnValue:
        """Asks first, naming the cases the user is responsible for; undone by reactivating."""
        _require_admin()
        session = db_session()
        user = _user(session, user_id)
        if request.method == "POST" and user.active:
            user.active = False
            staff.revoke_user_sessions(session, user.id)
            audit.record(session, g.principal, "deactivate", "user", user.id, None)
            commit()
            return redirect(url_for("portal.admin_users", saved="user_deactivated"))
        if not user.active:
            return redirect(url_for("portal.admin_users"))
        open_cases = responsible.open_cases_of(session, user.id)
        audit.record_reads(session, g.principal, "client", (c.id for c in open_cases))
        html = render_template(
            "portal/admin_user_deactivate.html", user=user, open_cases=open_cases
        )
        commit()
        return html

    @bp.post("/admin/users/<uuid:user_id>/reactivate")
    def admin_user_reactivate(user_id: uuid.UUID) -> ResponseReturnValue:
        _require_admin()
        session = db_session()
        user = _user(session, user_id)
        if not user.active:
            user.active = True
            audit.record(session, g.principal, "reactivate", "user", user.id, None)
            commit()
        return redirect(url_for("portal.admin_users", saved="user_reactivated"))

    @bp.get("/admin/api-clients")
    def admin_api_clients() -> ResponseReturnValue:
        _require_admin()
        session = db_session()
        html = render_template(
            "portal/admin_api_clients.html", clients=api_clients.list_api_clients(session)
        )
        commit()
        return html

    @bp.post("/admin/api-clients/<client_id>/revoke")
    def admin_api_client_revoke(client_id: str) -> ResponseReturnValue:
        _require_admin()
        api_clients.revoke_api_client(db_session(), g.principal, client_id)
        commit()
        return redirect(url_for("portal.admin_api_clients"))

    @bp.get("/admin/offices")
    def admin_offices() -> ResponseReturnValue:
        _require_admin()
        return render_template(
            "portal/admin_offices.html",
            offices=offices.list_offices(db_session()),
            partners=tenant_context().tenant.partners,
            labels=labels,
        )
