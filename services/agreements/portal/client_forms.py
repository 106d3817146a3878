"""Registering and editing a client (with a warning when the office already has a person of
that name and birth date), and an office lead handing a case over to a colleague."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from ..context import commit, db_session
from ..models import Client
from ..operations import clients, responsible
from ..schemas import clients as client_schemas
from . import forms

#: What the edit form shows and changes (the office changes only by a transfer).
EDITABLE = (
    "given_name", "family_name", "birth_date", "arrival_date", "country_of_origin",
    "languages", "residence_status", "course_obligation", "course_obligation_imposed_by",
    "postal_code",
)  # fmt: skip


def _values_of(client: Client) -> dict[str, Any]:
    values = {name: getattr(client, name) for name in EDITABLE}
    for name in ("birth_date", "arrival_date"):
        values[name] = values[name].isoformat()
    return values


def _changes(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k in EDITABLE and getattr(client, k) != v}


def register(bp: Blueprint) -> None:
    @bp.route("/clients/new", methods=["GET", "POST"])
    def client_new() -> ResponseReturnValue:
        errors: dict[str, str] = {}
        duplicates: list[Client] = []
        session = db_session()
        if request.method == "POST":
            data, messages = forms.load(
                client_schemas.ClientInputSchema(), forms.client_input(request.form)
            )
            if data is not None:
                if request.form.get("confirm_duplicate") != "on":
                    duplicates = clients.possible_duplicates(session, g.principal, data)
                if not duplicates:
                    client = clients.create_client(session, g.principal, data)
                    commit()
                    return redirect(
                        url_for("portal.client_page", client_id=client.id, saved="client_created")
                    )
            errors = forms.flatten_errors(messages)
        html = render_template(
            "portal/client_form.html", client=None, errors=errors, form=request.form,
            languages=request.form.getlist("languages"), duplicates=duplicates,
        )  # fmt: skip
        commit()  # the duplicates' reads are audited
        return html, (422 if errors else 200)

    @bp.route("/clients/<uuid:client_id>/edit", methods=["GET", "POST"])
    def client_edit(client_id: uuid.UUID) -> ResponseReturnValue:
        session = db_session()
        client = clients.get_client(session, g.principal, client_id)
        errors: dict[str, str] = {}
        form: Any = _values_of(client)
        languages = list(client.languages)
        if request.method == "POST":
            data, messages = forms.load(
                client_schemas.ClientInputSchema(), forms.client_input(request.form)
            )
            if data is not None:
                changes = _changes(client, data)
                if changes:
                    clients.update_client(session, g.principal, client.id, changes)
                commit()
                saved = "client_updated" if changes else "client_unchanged"
                return redirect(url_for("portal.client_page", client_id=client.id, saved=saved))
            errors = forms.flatten_errors(messages)
            form, languages = request.form, request.form.getlist("languages")
        html = render_template(
            "portal/client_form.html", client=client, errors=errors, form=form,
            languages=languages, duplicates=[],
        )  # fmt: skip
        commit()
        return html, (422 if errors else 200)

    @bp.post("/clients/<uuid:client_id>/responsible")
    def client_hand_over(client_id: uuid.UUID) -> ResponseReturnValue:
        try:
            to_user = uuid.UUID(forms.text(request.form, "responsible_id"))
        except ValueError:
            to_user = uuid.UUID(int=0)  # refused by hand_over like any stranger
        responsible.hand_over(db_session(), g.principal, client_id, to_user)
        commit()
        return redirect(url_for("portal.client_page", client_id=client_id, saved="handed_over"))
