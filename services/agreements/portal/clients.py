"""Clients: list with search and filters, registration, the case page with its timeline,
consents and assessments."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from ..context import commit, db_session
from ..db import utcnow
from ..models import Agreement
from ..models.vocabulary import ASSESSMENT_FIELDS
from ..operations import agreements, assessments, clients, consents, referrals
from ..schemas import clients as client_schemas
from . import forms, labels

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


def register(bp: Blueprint) -> None:
    @bp.get("/clients")
    def client_list() -> ResponseReturnValue:
        q = (request.args.get("q") or "").strip()[:100] or None
        status = request.args.get("agreement_status") or None
        if status not in AGREEMENT_FILTERS:
            status = None
        page_number = forms.count(request.args, "page", 1, 100_000)
        page = clients.list_clients(
            db_session(), g.principal, page=page_number, page_size=PAGE_SIZE, q=q,
            agreement_status=status, count_limit=COUNT_LIMIT,
        )  # fmt: skip
        current = clients.current_statuses(db_session(), [c.id for c in page.items])
        html = render_template(
            "portal/clients.html",
            page=page,
            q=q or "",
            agreement_status=status or "",
            filters=AGREEMENT_FILTERS,
            current=current,
            pages=max(1, -(-page.total // PAGE_SIZE), page_number),
        )
        commit()
        return html

    @bp.route("/clients/new", methods=["GET", "POST"])
    def client_new() -> ResponseReturnValue:
        errors: dict[str, str] = {}
        if request.method == "POST":
            data, messages = forms.load(
                client_schemas.ClientInputSchema(), forms.client_input(request.form)
            )
            if data is not None:
                client = clients.create_client(db_session(), g.principal, data)
                commit()
                return redirect(url_for("portal.client_page", client_id=client.id))
            errors = forms.flatten_errors(messages)
        return render_template(
            "portal/client_new.html", errors=errors, form=request.form, labels=labels
        ), (422 if errors else 200)

    @bp.get("/clients/<uuid:client_id>")
    def client_page(client_id: uuid.UUID) -> ResponseReturnValue:
        session = db_session()
        client = clients.get_client(session, g.principal, client_id)
        timeline, current = _timeline(client.id)
        html = render_template(
            "portal/client.html", client=client, timeline=timeline, current=current, now=utcnow()
        )
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
                return redirect(url_for("portal.client_page", client_id=client.id))
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
        return redirect(url_for("portal.client_page", client_id=consent.client_id))

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
                return redirect(url_for("portal.client_page", client_id=client.id))
            errors = forms.flatten_errors(messages)
        html = render_template(
            "portal/assessment_new.html", client=client, errors=errors, form=request.form,
            fields=ASSESSMENT_FIELDS,
        )  # fmt: skip
        commit()
        return html, (422 if errors else 200)
