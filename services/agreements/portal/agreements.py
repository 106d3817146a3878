"""Agreements: the editor (goals by field, steps with owner side and due date), signing,
reviews, amendments, closing, referrals from a step, and the printable PDF."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date

from ..context import commit, db_session
from ..db import utcnow
from ..errors import NotFound
from ..models import Agreement, Office
from ..models.vocabulary import TERMINAL_REFERRAL_STATUSES, AgreementStatus, SigningParty
from ..offers.portal import editor_suggestions
from ..operations import agreements, amendments, clients, consents, referrals
from ..schemas import agreements as agreement_schemas
from ..schemas import referrals as referral_schemas
from . import forms, labels
from .pdf import render_agreement_pdf, supported_document_language

MAX_GOAL_SLOTS = 20
MAX_STEP_SLOTS = 30


def _slots(name: str, default: int, maximum: int, used: int) -> int:
    return max(1, min(maximum, max(forms.count(request.args, name, default, maximum), used + 1)))


def _form_values(agreement: Agreement | None) -> dict[str, Any]:
    """An agreement's goals and steps under the editor's field names."""
    values: dict[str, Any] = {}
    if agreement is None:
        return values
    for g_index, goal in enumerate(agreement.goals):
        prefix = f"goals-{g_index}-"
        values[prefix + "field"] = goal.field
        values[prefix + "target"] = goal.target
        values[prefix + "due_date"] = goal.due_date.isoformat()
        for s_index, step in enumerate(goal.steps):
            sp = f"{prefix}steps-{s_index}-"
            values[sp + "description"] = step.description
            values[sp + "owner_side"] = step.owner_side
            values[sp + "due_date"] = step.due_date.isoformat()
            values[sp + "offer_id"] = str(step.offer_service_id or "")
            values[sp + "origin_step_id"] = str(step.origin_step_id or "")
    return values


def _editor(client_id: uuid.UUID, agreement: Agreement | None) -> ResponseReturnValue:
    session, principal = db_session(), g.principal
    client = clients.get_client(session, principal, client_id)
    existing_goals = len(agreement.goals) if agreement else 0
    existing_steps = (
        max((len(goal.steps) for goal in agreement.goals), default=0) if agreement else 0
    )
    goal_slots = _slots("goals", 2, MAX_GOAL_SLOTS, existing_goals)
    step_slots = _slots("steps", 3, MAX_STEP_SLOTS, existing_steps)
    errors: dict[str, str] = {}
    values: Any = _form_values(agreement)
    if request.method == "POST":
        goal_slots = forms.count(request.form, "goal_slots", goal_slots, MAX_GOAL_SLOTS)
        step_slots = forms.count(request.form, "step_slots", step_slots, MAX_STEP_SLOTS)
        goals = forms.goals_input(request.form, goal_slots, step_slots)
        data, messages = forms.load(agreement_schemas.AgreementInputSchema(), {"goals": goals})
        if request.form.get("action") == "suggest":  # show offers for the goals, save nothing
            data, messages = None, {}
        if data is not None and not data["goals"]:
            messages = {"goals": ["Enter at least one goal."]}
            data = None
        if data is not None:
            if agreement is None:
                agreement = agreements.draft_agreement(session, principal, client.id, data["goals"])
            else:
                agreement = agreements.replace_draft(
                    session, principal, agreement.id, data["goals"]
                )
            commit()
            return redirect(
                url_for("portal.agreement_page", agreement_id=agreement.id, saved="draft")
            )
        errors = forms.flatten_errors(messages)
        values = request.form
    suggestions = editor_suggestions(client.id, values, goal_slots)
    html = render_template(
        "portal/agreement_edit.html",
        suggestions=suggestions,
        client=client,
        agreement=agreement,
        values=values,
        errors=errors,
        goal_slots=goal_slots,
        step_slots=step_slots,
        labels=labels,
    )
    commit()
    return html, (422 if errors else 200)


def _referrals_by_step(agreement: Agreement) -> dict[uuid.UUID, list[Any]]:
    """A step's own referrals and those of the step it continues (an amendment's steps,
    before it is active: then the open ones move over to them)."""
    items, _total = referrals.list_referrals(
        db_session(), g.principal, client_id=agreement.client_id, page_size=100, count=False
    )
    continued = {step.origin_step_id: step.id for step in agreement.steps if step.origin_step_id}
    by_step: dict[uuid.UUID, list[Any]] = {}
    for referral in items:
        if referral.step_id:
            step_id = continued.get(referral.step_id, referral.step_id)
            by_step.setdefault(step_id, []).append(referral)
    return by_step


def _step_of(agreement: Agreement, step_id: uuid.UUID) -> Any:
    for step in agreement.steps:
        if step.id == step_id:
            return step
    raise NotFound("step")


def register(bp: Blueprint) -> None:
    @bp.route("/clients/<uuid:client_id>/agreements/new", methods=["GET", "POST"])
    def agreement_new(client_id: uuid.UUID) -> ResponseReturnValue:
        return _editor(client_id, None)

    @bp.route("/agreements/<uuid:agreement_id>/edit", methods=["GET", "POST"])
    def agreement_edit(agreement_id: uuid.UUID) -> ResponseReturnValue:
        agreement = agreements.get_agreement(db_session(), g.principal, agreement_id)
        if agreement.status != AgreementStatus.DRAFT:
            return redirect(url_for("portal.agreement_page", agreement_id=agreement.id))
        return _editor(agreement.client_id, agreement)

    @bp.get("/agreements/<uuid:agreement_id>")
    def agreement_page(agreement_id: uuid.UUID) -> ResponseReturnValue:
        session, principal = db_session(), g.principal
        agreement = agreements.get_agreement(session, principal, agreement_id)
        client = clients.get_client(session, principal, agreement.client_id)
        by_step = _referrals_by_step(agreement)
        open_step_ids = {
            step_id
            for step_id, referrals_of_step in by_step.items()
            if any(r.status not in TERMINAL_REFERRAL_STATUSES for r in referrals_of_step)
        }
        earlier_reviews = amendments.earlier_reviews(session, agreement)
        html = render_template(
            "portal/agreement.html",
            agreement=agreement,
            client=client,
            referrals_by_step=by_step,
            open_step_ids=open_step_ids,
            earlier_reviews=earlier_reviews,
            today=utcnow().date().isoformat(),
            document_language=supported_document_language(client.languages),
        )
        commit()
        return html

    @bp.post("/agreements/<uuid:agreement_id>/sign")
    def agreement_sign(agreement_id: uuid.UUID) -> ResponseReturnValue:
        data, messages = forms.load(
            agreement_schemas.SignInputSchema(),
            {"party": forms.text(request.form, "party"),
             **({"signed_on": v} if (v := forms.text(request.form, "signed_on")) else {})},
        )  # fmt: skip
        if data is None:
            return _invalid(messages)
        agreements.sign_agreement(
            db_session(), g.principal, agreement_id, SigningParty(data["party"]),
            data.get("signed_on"),
        )  # fmt: skip
        commit()
        return redirect(url_for("portal.agreement_page", agreement_id=agreement_id, saved="signed"))

    @bp.post("/agreements/<uuid:agreement_id>/discard")
    def agreement_discard(agreement_id: uuid.UUID) -> ResponseReturnValue:
        agreement = agreements.get_agreement(db_session(), g.principal, agreement_id)
        client_id = agreement.client_id
        amendments.discard_amendment(db_session(), g.principal, agreement_id)
        commit()
        return redirect(url_for("portal.client_page", client_id=client_id))

    @bp.route("/agreements/<uuid:agreement_id>/review", methods=["GET", "POST"])
    def agreement_review(agreement_id: uuid.UUID) -> ResponseReturnValue:
        session, principal = db_session(), g.principal
        agreement = agreements.get_agreement(session, principal, agreement_id)
        errors: dict[str, str] = {}
        if request.method == "POST":
            steps = [
                {"step_id": str(step.id), "result": result,
                 "note": forms.text(request.form, f"note-{step.id}")}
                for step in agreement.steps
                if (result := forms.text(request.form, f"result-{step.id}"))
            ]  # fmt: skip
            data, messages = forms.load(
                agreement_schemas.ReviewInputSchema(),
                {"steps": steps, "obstacles": forms.text(request.form, "obstacles")},
            )
            if data is not None:
                agreements.record_review(
                    session, principal, agreement.id, data["steps"], data["obstacles"]
                )
                commit()
                return redirect(
                    url_for("portal.agreement_page", agreement_id=agreement.id, saved="review")
                )
            errors = forms.flatten_errors(messages)
        html = render_template(
            "portal/review.html", agreement=agreement, errors=errors, form=request.form,
            labels=labels, referrals_by_step=_referrals_by_step(agreement),
        )  # fmt: skip
        commit()
        return html, (422 if errors else 200)

    @bp.post("/agreements/<uuid:agreement_id>/amend")
    def agreement_amend(agreement_id: uuid.UUID) -> ResponseReturnValue:
        data, messages = forms.load(
            agreement_schemas.AmendmentInputSchema(), {"reason": forms.text(request.form, "reason")}
        )
        if data is None:
            return _invalid(messages)
        amendment = amendments.amend_agreement(
            db_session(), g.principal, agreement_id, data["reason"]
        )
        commit()
        return redirect(
            url_for("portal.agreement_edit", agreement_id=amendment.id, saved="amendment")
        )

    @bp.route("/agreements/<uuid:agreement_id>/close", methods=["GET", "POST"])
    def agreement_close(agreement_id: uuid.UUID) -> ResponseReturnValue:
        session, principal = db_session(), g.principal
        agreement = agreements.get_agreement(session, principal, agreement_id)
        errors: dict[str, str] = {}
        if request.method == "POST":
            attainments = [
                {"goal_id": str(goal.id), "attainment": value}
                for goal in agreement.goals
                if (value := forms.text(request.form, f"attainment-{goal.id}"))
            ]
            data, messages = forms.load(
                agreement_schemas.CloseInputSchema(),
                {"outcome": forms.text(request.form, "outcome"),
                 "balance": forms.text(request.form, "balance"), "goals": attainments,
                 "helped": forms.optional(request.form, "helped"),
                 "easier_to_keep_going": forms.optional(request.form, "easier_to_keep_going")},
            )  # fmt: skip
            if data is not None:
                agreements.close_agreement(
                    session, principal, agreement.id, data["outcome"], data["balance"],
                    data.get("goals"), helped=data.get("helped"),
                    easier_to_keep_going=data.get("easier_to_keep_going"),
                )  # fmt: skip
                commit()
                return redirect(
                    url_for("portal.agreement_page", agreement_id=agreement.id, saved="closed")
                )
            errors = forms.flatten_errors(messages)
        html = render_template(
            "portal/close.html", agreement=agreement, errors=errors, form=request.form,
            labels=labels,
        )  # fmt: skip
        commit()
        return html, (422 if errors else 200)

    @bp.route(
        "/agreements/<uuid:agreement_id>/steps/<uuid:step_id>/referral", methods=["GET", "POST"]
    )
    def referral_new(agreement_id: uuid.UUID, step_id: uuid.UUID) -> ResponseReturnValue:
        session, principal = db_session(), g.principal
        agreement = agreements.get_agreement(session, principal, agreement_id)
        step = _step_of(agreement, step_id)
        client = clients.get_client(session, principal, agreement.client_id)
        now = utcnow()
        valid_consents = [
            c for c in consents.list_consents(session, principal, client.id) if c.is_valid_at(now)
        ]
        errors: dict[str, str] = {}
        if request.method == "POST":
            data, messages = forms.load(
                referral_schemas.ReferralInputSchema(),
                {"client_id": str(client.id), "step_id": str(step.id),
                 "recipient_kind": forms.text(request.form, "recipient_kind"),
                 "purpose": forms.text(request.form, "purpose"),
                 "consent_id": forms.text(request.form, "consent_id"),
                 "note": forms.text(request.form, "note")},
            )  # fmt: skip
            if data is not None:
                referrals.create_referral(session, principal, data)
                commit()
                return redirect(
                    url_for("portal.agreement_page", agreement_id=agreement.id, saved="referral")
                )
            errors = forms.flatten_errors(messages)
        html = render_template(
            "portal/referral_new.html", agreement=agreement, step=step, client=client,
            consents=valid_consents, consent_options=_consent_options(valid_consents),
            errors=errors, form=request.form, labels=labels,
        )  # fmt: skip
        commit()
        return html, (422 if errors else 200)

    @bp.post("/referrals/<uuid:referral_id>/withdraw")
    def referral_withdraw(referral_id: uuid.UUID) -> ResponseReturnValue:
        referral = referrals.withdraw_referral(
            db_session(), g.principal, referral_id, forms.text(request.form, "reason")
        )
        commit()
        return redirect(
            url_for("portal.client_page", client_id=referral.client_id, saved="referral_withdrawn")
        )

    @bp.get("/agreements/<uuid:agreement_id>/agreement.pdf")
    def agreement_pdf(agreement_id: uuid.UUID) -> ResponseReturnValue:
        session, principal = db_session(), g.principal
        agreement = agreements.get_agreement(session, principal, agreement_id)
        client = clients.get_client(session, principal, agreement.client_id)
        lang = request.args.get("lang") or supported_document_language(client.languages)
        office = session.get(Office, client.office_id)
        pdf = render_agreement_pdf(agreement, client, office.name if office else "", lang)
        commit()
        name = f"vereinbarung-{client.family_name.lower()}-v{agreement.version}.pdf"
        return Response(
            pdf,
            mimetype="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{_ascii(name)}"'},
        )


def _consent_options(items: list[Any]) -> dict[str, str]:
    return {
        str(c.id): f"{labels.label('agency', c.recipient_kind)} – {format_date(c.signed_at)} "
        f"({', '.join(labels.label('purpose', p) for p in c.purposes)})"
        for c in items
    }


def _ascii(name: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in ".-") else "_" for ch in name)


def _invalid(messages: Any) -> ResponseReturnValue:
    return render_template("portal/error.html", message=None, code="invalid_input",
                           errors=forms.flatten_errors(messages)), 422  # fmt: skip
