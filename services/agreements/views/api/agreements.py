"""Agreements: drafting, signing, reviews, amendments (Fortschreibung) and closing."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from ...models.vocabulary import SigningParty
from ...operations import agreements, amendments
from ...schemas import agreements as agreement_schemas
from .edge import ERRORS, call_and_commit, document, errors


class ClientAgreements(MethodView):
    @document.response(200, agreement_schemas.AgreementSchema(many=True))
    @errors(401, 403, 404)
    def get(self, client_id: uuid.UUID) -> Any:
        """Every version of the client's agreements, oldest first."""
        return call_and_commit(agreements.list_agreements, client_id)

    @document.arguments(agreement_schemas.AgreementInputSchema)
    @document.response(201, agreement_schemas.AgreementSchema)
    @errors(*ERRORS)
    def post(self, data: dict[str, Any], client_id: uuid.UUID) -> Any:
        """Draft a new agreement with goals and steps."""
        return call_and_commit(agreements.draft_agreement, client_id, data["goals"])


class AgreementResource(MethodView):
    @document.response(200, agreement_schemas.AgreementSchema)
    @errors(401, 403, 404)
    def get(self, agreement_id: uuid.UUID) -> Any:
        return call_and_commit(agreements.get_agreement, agreement_id)

    @document.arguments(agreement_schemas.AgreementInputSchema)
    @document.response(200, agreement_schemas.AgreementSchema)
    @errors(*ERRORS)
    def put(self, data: dict[str, Any], agreement_id: uuid.UUID) -> Any:
        """Replace a draft's goals and steps (409 once anything is signed)."""
        return call_and_commit(agreements.replace_draft, agreement_id, data["goals"])

    @document.response(204)
    @errors(401, 403, 404, 409)
    def delete(self, agreement_id: uuid.UUID) -> None:
        """Discard an unsigned draft."""
        call_and_commit(amendments.discard_amendment, agreement_id)


class SignAgreement(MethodView):
    @document.arguments(agreement_schemas.SignInputSchema)
    @document.response(200, agreement_schemas.AgreementSchema)
    @errors(*ERRORS)
    def post(self, data: dict[str, Any], agreement_id: uuid.UUID) -> Any:
        """One party signs; with both signatures the agreement becomes active."""
        return call_and_commit(
            agreements.sign_agreement,
            agreement_id,
            SigningParty(data["party"]),
            data.get("signed_on"),
        )


class AgreementReviews(MethodView):
    @document.arguments(agreement_schemas.ReviewInputSchema)
    @document.response(201, agreement_schemas.ReviewSchema)
    @errors(*ERRORS)
    def post(self, data: dict[str, Any], agreement_id: uuid.UUID) -> Any:
        return call_and_commit(
            agreements.record_review, agreement_id, data["steps"], data["obstacles"]
        )


class AgreementAmendments(MethodView):
    @document.arguments(agreement_schemas.AmendmentInputSchema)
    @document.response(201, agreement_schemas.AgreementSchema)
    @errors(*ERRORS)
    def post(self, data: dict[str, Any], agreement_id: uuid.UUID) -> Any:
        """Start a Fortschreibung: a new draft version linked to this one."""
        return call_and_commit(
            amendments.amend_agreement, agreement_id, data["reason"], data.get("goals")
        )


class CloseAgreement(MethodView):
    @document.arguments(agreement_schemas.CloseInputSchema)
    @document.response(200, agreement_schemas.AgreementSchema)
    @errors(*ERRORS)
    def post(self, data: dict[str, Any], agreement_id: uuid.UUID) -> Any:
        return call_and_commit(
            agreements.close_agreement,
            agreement_id,
            data["outcome"],
            data["balance"],
            data.get("goals"),
        )
