"""Agreements: drafting, signing, reviews, amendments (Fortschreibung) and closing."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from ...models.vocabulary import SigningParty
from ...operations import agreements, amendments
from ...schemas import agreements as agreement_schemas
from .edge import call_and_commit, documented

UNKNOWN_OFFER = "`offer_unknown`: a step's `offer_id` is not in the tenant's offer directory."
CONTINUED_STEP = (
    "`origin_step_not_in_previous_version`: a step's `origin_step_id` is not a step of the "
    "version this one amends."
)


class ClientAgreements(MethodView):
    @documented(200, agreement_schemas.AgreementSchema(many=True), 404)
    def get(self, client_id: uuid.UUID) -> Any:
        """Every version of the client's agreements, oldest first."""
        return call_and_commit(agreements.list_agreements, client_id)

    @documented(
        201,
        agreement_schemas.AgreementSchema,
        404,
        409,
        body=agreement_schemas.AgreementInputSchema,
        rules={
            409: "`agreement_already_open`: the client has a draft, signed or active "
            "agreement; amend it instead.",
            422: f"{UNKNOWN_OFFER} A first version continues no step "
            "(`origin_step_not_in_previous_version`).",
        },
    )
    def post(self, data: dict[str, Any], client_id: uuid.UUID) -> Any:
        """Draft a new agreement with goals and steps."""
        return call_and_commit(agreements.draft_agreement, client_id, data["goals"])


class AgreementResource(MethodView):
    @documented(200, agreement_schemas.AgreementSchema, 404)
    def get(self, agreement_id: uuid.UUID) -> Any:
        return call_and_commit(agreements.get_agreement, agreement_id)

    @documented(
        200,
        agreement_schemas.AgreementSchema,
        404,
        409,
        body=agreement_schemas.AgreementInputSchema,
        rules={
            409: "`agreement_not_editable`: only a draft can be changed; a signed version is "
            "amended instead.",
            422: f"{UNKNOWN_OFFER} {CONTINUED_STEP}",
        },
    )
    def put(self, data: dict[str, Any], agreement_id: uuid.UUID) -> Any:
        """Replace a draft's goals and steps (409 once anything is signed)."""
        return call_and_commit(agreements.replace_draft, agreement_id, data["goals"])

    @documented(
        204,
        None,
        404,
        409,
        rules={409: "`agreement_not_discardable`: only an unsigned draft can be discarded."},
    )
    def delete(self, agreement_id: uuid.UUID) -> None:
        """Discard an unsigned draft."""
        call_and_commit(amendments.discard_amendment, agreement_id)


class SignAgreement(MethodView):
    @documented(
        200,
        agreement_schemas.AgreementSchema,
        404,
        409,
        body=agreement_schemas.SignInputSchema,
        rules={
            409: "`agreement_not_signable`: the version is active, closed or superseded; "
            "`agreement_incomplete`: no goal has a step yet; `already_signed`: this party "
            "has signed already."
        },
    )
    def post(self, data: dict[str, Any], agreement_id: uuid.UUID) -> Any:
        """One party signs; with both signatures the agreement becomes active."""
        return call_and_commit(
            agreements.sign_agreement,
            agreement_id,
            SigningParty(data["party"]),
            data.get("signed_on"),
        )


class AgreementReviews(MethodView):
    @documented(
        201,
        agreement_schemas.ReviewSchema,
        404,
        409,
        body=agreement_schemas.ReviewInputSchema,
        rules={
            409: "`agreement_not_active`: only an active agreement is reviewed.",
            422: "`step_not_in_agreement`: a `step_id` is not a step of this version.",
        },
    )
    def post(self, data: dict[str, Any], agreement_id: uuid.UUID) -> Any:
        return call_and_commit(
            agreements.record_review, agreement_id, data["steps"], data["obstacles"]
        )


class AgreementAmendments(MethodView):
    @documented(
        201,
        agreement_schemas.AgreementSchema,
        404,
        409,
        body=agreement_schemas.AmendmentInputSchema,
        rules={
            409: "`agreement_not_active`: only an active agreement is amended; "
            "`amendment_pending`: it has an unsigned amendment already.",
            422: f"{UNKNOWN_OFFER} {CONTINUED_STEP}",
        },
    )
    def post(self, data: dict[str, Any], agreement_id: uuid.UUID) -> Any:
        """Start a Fortschreibung: a new draft version linked to this one."""
        return call_and_commit(
            amendments.amend_agreement, agreement_id, data["reason"], data.get("goals")
        )


class CloseAgreement(MethodView):
    @documented(
        200,
        agreement_schemas.AgreementSchema,
        404,
        409,
        body=agreement_schemas.CloseInputSchema,
        rules={
            409: "`agreement_not_active`: only an active agreement is closed; "
            "`amendment_pending`: finish or discard its pending amendment first.",
            422: "`goal_not_in_agreement`: a `goal_id` is not a goal of this version.",
        },
    )
    def post(self, data: dict[str, Any], agreement_id: uuid.UUID) -> Any:
        return call_and_commit(
            agreements.close_agreement,
            agreement_id,
            data["outcome"],
            data["balance"],
            data.get("goals"),
            helped=data.get("helped"),
            easier_to_keep_going=data.get("easier_to_keep_going"),
        )
