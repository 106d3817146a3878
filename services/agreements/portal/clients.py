"""Clients: list with search and filters, registration, the case page with its timeline,
consents and assessments."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from ..context import commit, db_session
from ..db import utcnow
from ..models import Agreement, User
from ..models.vocabulary import ASSESSMENT_FIELDS
from ..operations import agreements, assessments, clients, consents, referrals, responsible
from ..schemas import clients as client_schemas
from . import forms
from .session import current_user

PAGE_SIZE = 20
#: The list counts up to here; beyond it shows "more than" (counting 100,000 cases on every
#: page costs more than the rest of the page).
COUNT_LIMIT = 10_000
AGREEMENT_FILTERS = ("none", "draft", "signed", "active", "closed")


def _timeline(client_id: uuid.UUID) -> tuple[list[dict[str, Any]], Agreement | None]:
    """Everything that happened in the case, newest first, and the current agreement."""
    session, principal = db_session(), g.principal
    entries: list[dict[str, Any]] = []
    for consent in consents.list_consents(session, principal, client_id):
        entries.append({"at": consent.signed_at, "kind": "consent", "item": consent})
        if consent.revoked_at:
            entries.append({"at": consent.revoked_at, "kind": "consent_revoked", "item": consent})
    for assessment in assessments.list_assessments(session, principal, client_id):
        entries.append({"at": assessment.created_at, "kind": "assessment", "item": assessment})
    versions = agreements.list_agreements(session, principal, client_id)
    for agreement in versions:
        entries.append({"at": agreement.created_at, "kind": "agreement", "item": agreement})
        for review in agreement.reviews:
            entries.append(
                {"at": review.created_at, "kind": "review", "item": review, "agreement": agreement}
            )
        if agreement.closed_at:
            entries.append({"at": agreement.closed_at, "kind": "closed", "item": agreement})
    items, _total = referrals.list_referrals(
        session, principal, client_id=client_id, page_size=100, count=False
    )
    for referral in items:
        entries.append({"at": referral.created_at, "kind": "referral", "item": referral})
    entries.sort(key=lambda e: e["at"], reverse=True)
    return entries, clients.newest_agreement(versions)


def staff_names_of_office() -> dict[uuid.UUID, str]:
    """Display names of the office's staff, active or not (a case may still name a
    deactivated counsellor until it is handed over)."""
    office_id = g.principal.require_case_access()
    rows = db_session().execute(
        select(User.id, User.display_name).where(User.office_id == office_id)
    )
    return {user_id: name for user_id, name in rows}


def register(bp: Blueprint) -> None:
    @bp.get("/clients")
    def client_list() -> ResponseReturnValue:
        q = (request.args.get("q") or "").strip()[:100] or None
        status = request.args.get("agreement_status") or None
        if status not in AGREEMENT_FILTERS:
            status = None
        page_number = forms.count(request.args, "page", 1, 100_000)
        mine = request.args.get("mine") == "1"
        me = current_user()
        page = clients.list_clients(
            db_session(), g.principal, page=page_number, page_size=PAGE_SIZE, q=q,
            agreement_status=status, count_limit=COUNT_LIMIT,
            responsible_id=(me.id if me else uuid.UUID(int=0)) if mine else None,
        )  # fmt: skip
        current = clients.current_statuses(db_session(), [c.id for c in page.items])
        html = render_template(
            "portal/clients.html",
            page=page,
            q=q or "",
            mine=mine,
            agreement_status=status or "",
            filters=AGREEMENT_FILTERS,
            current=current,
            staff_names=staff_names_of_office(),
            pages=max(1, -(-page.total // PAGE_SIZE), page_number),
        )
        commit()
        return html

    @bp.get("/clients/<uuid:client_id>")
    def client_page(client_id: uuid.UUID) -> ResponseReturnValue:
        session = db_session()
        client = clients.get_client(session, g.principal, client_id)
        timeline, current = _timeline(client.id)
        html = render_template(
            "portal/client.html", client=client, timeline=timeline, current=current,
            now=utcnow(), staff=responsible.office_staff(session, client.office_id),
            staff_names=staff_names_of_office(),
        )  # fmt: skip
        commit()
        return html

    @bp.route("/clients/<uuid:client_id>/consents/new", methods=["GET", "POST"])
    def consent_new(client_id: uuid.UUID) -> ResponseReturnValue:
        session = db_session()
        client = clients.get_client(session, g.principal, client_id)
        errors: dict[str, str] = {}
        if request.method == "POST":
            data, messages = forms.load(
                client_schemas.ConsentInputSchema(), forms.consent_input(request.form, utcnow())
            )
            if data is not None:
                consents.give_consent(session, g.principal, client.id, data)
                commit()
                return redirect(url_for("portal.client_page", client_id=client.id, saved="consent"))
            errors = forms.flatten_errors(messages)
        html = render_template(
            "portal/consent_new.html", client=client, errors=errors, form=request.form,
            today=utcnow().date().isoformat(),
        )  # fmt: skip
        commit()
        return html, (422 if errors else 200)

    @bp.post("/consents/<uuid:consent_id>/revoke")
    def consent_revoke(consent_id: uuid.UUID) -> ResponseReturnValue:
        consent = consents.revoke_consent(db_session(), g.principal, consent_id)
        commit()
        return redirect(
            url_for("portal.client_page", client_id=consent.client_id, saved="consent_revoked")
        )

    @bp.route("/clients/<uuid:client_id>/assessments/new", methods=["GET", "POST"])
    def assessment_new(client_id: uuid.UUID) -> ResponseReturnValue:
        session = db_session()
        client = clients.get_client(session, g.principal, client_id)
        errors: dict[str, str] = {}
        if request.method == "POST":
            data, messages = forms.load(
                client_schemas.AssessmentInputSchema(),
                forms.assessment_input(request.form, list(ASSESSMENT_FIELDS)),
            )
            if data is not None:
                assessments.record_assessment(session, g.principal, client.id, data["by_field"])
                commit()
                return redirect(
                    url_for("portal.client_page", client_id=client.id, saved="assessment")
                )
            errors = forms.flatten_errors(messages)
        html = render_template(
            "portal/assessment_new.html", client=client, errors=errors, form=request.form,
            fields=ASSESSMENT_FIELDS,
        )  # fmt: skip
        commit()
        return html, (422 if errors else 200)
