"""The JSON API, /api/v1: thin views that parse, call one operation and commit at the edge."""

from __future__ import annotations

import uuid
from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.exceptions import UnsupportedMediaType

from ..context import commit, current_principal, db_session, tenant_context
from ..identity.api_auth import authenticate_request
from ..models.vocabulary import SigningParty
from ..operations import agreements, assessments, clients, consents, offices, referrals
from ..schemas import agreements as agreement_schemas
from ..schemas import clients as client_schemas
from ..schemas import referrals as referral_schemas
from ..schemas.common import ApiErrorSchema

ERRORS = (400, 401, 403, 404, 409, 415, 422)


def _require_json_body() -> None:
    """A body that is not JSON is refused (415), never read as "no fields given"."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    has_body = bool(request.content_length) or bool(request.headers.get("Transfer-Encoding"))
    if has_body and not request.is_json:
        raise UnsupportedMediaType()


def _documented_errors(blp: Blueprint, *codes: int) -> Any:
    def decorate(fn: Any) -> Any:
        for code in codes:
            fn = blp.alt_response(code, schema=ApiErrorSchema, description="error")(fn)
        return fn

    return decorate


def make_api_blueprint() -> Blueprint:
    """Built per app, so no state is shared between tenants' apps."""
    blp = Blueprint(
        "api",
        __name__,
        url_prefix="/api/v1",
        description="Integration agreements: clients, consents, assessments, agreements, "
        "reviews, referrals.",
    )
    errors = _documented_errors

    @blp.before_request
    def _authenticate() -> None:
        authenticate_request()
        _require_json_body()

    @blp.route("/clients")
    class Clients(MethodView):
        @blp.arguments(client_schemas.ClientQuerySchema, location="query")
        @blp.response(200, client_schemas.ClientPageSchema)
        @errors(blp, 401, 403, 422)
        def get(self, query: dict[str, Any]) -> Any:
            """List the office's clients (paginated; search with q)."""
            page = clients.list_clients(db_session(), current_principal(), **query)
            commit()
            return page

        @blp.arguments(client_schemas.ClientInputSchema)
        @blp.response(201, client_schemas.ClientSchema)
        @errors(blp, *ERRORS)
        def post(self, data: dict[str, Any]) -> Any:
            """Register a client in the caller's office."""
            client = clients.create_client(db_session(), current_principal(), data)
            commit()
            return client

    @blp.route("/clients/<uuid:client_id>")
    class ClientResource(MethodView):
        @blp.response(200, client_schemas.ClientSchema)
        @errors(blp, 401, 403, 404)
        def get(self, client_id: uuid.UUID) -> Any:
            client = clients.get_client(db_session(), current_principal(), client_id)
            commit()
            return client

        @blp.arguments(client_schemas.ClientUpdateSchema)
        @blp.response(200, client_schemas.ClientSchema)
        @errors(blp, *ERRORS)
        def patch(self, changes: dict[str, Any], client_id: uuid.UUID) -> Any:
            client = clients.update_client(db_session(), current_principal(), client_id, changes)
            commit()
            return client

    @blp.route("/clients/<uuid:client_id>/consents")
    class ClientConsents(MethodView):
        @blp.response(200, client_schemas.ConsentSchema(many=True))
        @errors(blp, 401, 403, 404)
        def get(self, client_id: uuid.UUID) -> Any:
            items = consents.list_consents(db_session(), current_principal(), client_id)
            commit()
            return items

        @blp.arguments(client_schemas.ConsentInputSchema)
        @blp.response(201, client_schemas.ConsentSchema)
        @errors(blp, *ERRORS)
        def post(self, data: dict[str, Any], client_id: uuid.UUID) -> Any:
            consent = consents.give_consent(db_session(), current_principal(), client_id, data)
            commit()
            return consent

    @blp.route("/consents/<uuid:consent_id>/revoke")
    class RevokeConsent(MethodView):
        @blp.arguments(client_schemas.RevokeInputSchema)
        @blp.response(200, client_schemas.ConsentSchema)
        @errors(blp, *ERRORS)
        def post(self, data: dict[str, Any], consent_id: uuid.UUID) -> Any:
            """Revoke a consent; open referrals it covered are revoked too."""
            consent = consents.revoke_consent(
                db_session(), current_principal(), consent_id, data.get("revoked_at")
            )
            commit()
            return consent

    @blp.route("/clients/<uuid:client_id>/assessments")
    class ClientAssessments(MethodView):
        @blp.response(200, client_schemas.AssessmentSchema(many=True))
        @errors(blp, 401, 403, 404)
        def get(self, client_id: uuid.UUID) -> Any:
            items = assessments.list_assessments(db_session(), current_principal(), client_id)
            commit()
            return items

        @blp.arguments(client_schemas.AssessmentInputSchema)
        @blp.response(201, client_schemas.AssessmentSchema)
        @errors(blp, *ERRORS)
        def post(self, data: dict[str, Any], client_id: uuid.UUID) -> Any:
            assessment = assessments.record_assessment(
                db_session(), current_principal(), client_id, data["by_field"]
            )
            commit()
            return assessment

    @blp.route("/clients/<uuid:client_id>/agreements")
    class ClientAgreements(MethodView):
        @blp.response(200, agreement_schemas.AgreementSchema(many=True))
        @errors(blp, 401, 403, 404)
        def get(self, client_id: uuid.UUID) -> Any:
            """Every version of the client's agreements, oldest first."""
            items = agreements.list_agreements(db_session(), current_principal(), client_id)
            commit()
            return items

        @blp.arguments(agreement_schemas.AgreementInputSchema)
        @blp.response(201, agreement_schemas.AgreementSchema)
        @errors(blp, *ERRORS)
        def post(self, data: dict[str, Any], client_id: uuid.UUID) -> Any:
            """Draft a new agreement with goals and steps."""
            agreement = agreements.draft_agreement(
                db_session(), current_principal(), client_id, data["goals"]
            )
            commit()
            return agreement

    @blp.route("/agreements/<uuid:agreement_id>")
    class AgreementResource(MethodView):
        @blp.response(200, agreement_schemas.AgreementSchema)
        @errors(blp, 401, 403, 404)
        def get(self, agreement_id: uuid.UUID) -> Any:
            agreement = agreements.get_agreement(db_session(), current_principal(), agreement_id)
            commit()
            return agreement

        @blp.arguments(agreement_schemas.AgreementInputSchema)
        @blp.response(200, agreement_schemas.AgreementSchema)
        @errors(blp, *ERRORS)
        def put(self, data: dict[str, Any], agreement_id: uuid.UUID) -> Any:
            """Replace a draft's goals and steps (409 once anything is signed)."""
            agreement = agreements.replace_draft(
                db_session(), current_principal(), agreement_id, data["goals"]
            )
            commit()
            return agreement

        @blp.response(204)
        @errors(blp, 401, 403, 404, 409)
        def delete(self, agreement_id: uuid.UUID) -> None:
            """Discard an unsigned draft."""
            agreements.discard_amendment(db_session(), current_principal(), agreement_id)
            commit()

    @blp.route("/agreements/<uuid:agreement_id>/sign")
    class SignAgreement(MethodView):
        @blp.arguments(agreement_schemas.SignInputSchema)
        @blp.response(200, agreement_schemas.AgreementSchema)
        @errors(blp, *ERRORS)
        def post(self, data: dict[str, Any], agreement_id: uuid.UUID) -> Any:
            """One party signs; with both signatures the agreement becomes active."""
            agreement = agreements.sign_agreement(
                db_session(),
                current_principal(),
                agreement_id,
                SigningParty(data["party"]),
                data.get("signed_on"),
            )
            commit()
            return agreement

    @blp.route("/agreements/<uuid:agreement_id>/reviews")
    class AgreementReviews(MethodView):
        @blp.arguments(agreement_schemas.ReviewInputSchema)
        @blp.response(201, agreement_schemas.ReviewSchema)
        @errors(blp, *ERRORS)
        def post(self, data: dict[str, Any], agreement_id: uuid.UUID) -> Any:
            review = agreements.record_review(
                db_session(), current_principal(), agreement_id, data["steps"], data["obstacles"]
            )
            commit()
            return review

    @blp.route("/agreements/<uuid:agreement_id>/amendments")
    class AgreementAmendments(MethodView):
        @blp.arguments(agreement_schemas.AmendmentInputSchema)
        @blp.response(201, agreement_schemas.AgreementSchema)
        @errors(blp, *ERRORS)
        def post(self, data: dict[str, Any], agreement_id: uuid.UUID) -> Any:
            """Start a Fortschreibung: a new draft version linked to this one."""
            amendment = agreements.amend_agreement(
                db_session(), current_principal(), agreement_id, data["reason"], data.get("goals")
            )
            commit()
            return amendment

    @blp.route("/agreements/<uuid:agreement_id>/close")
    class CloseAgreement(MethodView):
        @blp.arguments(agreement_schemas.CloseInputSchema)
        @blp.response(200, agreement_schemas.AgreementSchema)
        @errors(blp, *ERRORS)
        def post(self, data: dict[str, Any], agreement_id: uuid.UUID) -> Any:
            agreement = agreements.close_agreement(
                db_session(),
                current_principal(),
                agreement_id,
                data["outcome"],
                data["balance"],
                data.get("goals"),
                helped=data.get("helped"),
                easier_to_keep_going=data.get("easier_to_keep_going"),
            )
            commit()
            return agreement

    @blp.route("/referrals")
    class Referrals(MethodView):
        @blp.arguments(referral_schemas.ReferralQuerySchema, location="query")
        @blp.response(200, referral_schemas.ReferralPageSchema)
        @errors(blp, 401, 403, 422)
        def get(self, query: dict[str, Any]) -> Any:
            items, total = referrals.list_referrals(db_session(), current_principal(), **query)
            commit()
            return {
                "items": items,
                "total": total,
                "page": query["page"],
                "page_size": query["page_size"],
            }

        @blp.arguments(referral_schemas.ReferralInputSchema)
        @blp.response(201, referral_schemas.ReferralSchema)
        @errors(blp, *ERRORS)
        def post(self, data: dict[str, Any]) -> Any:
            """Refer a step to a partner agency, under a consent that covers it."""
            referral = referrals.create_referral(db_session(), current_principal(), data)
            commit()
            return referral

    @blp.route("/referrals/<uuid:referral_id>")
    class ReferralResource(MethodView):
        @blp.response(200, referral_schemas.ReferralSchema)
        @errors(blp, 401, 403, 404)
        def get(self, referral_id: uuid.UUID) -> Any:
            referral = referrals.get_referral(db_session(), current_principal(), referral_id)
            commit()
            return referral

    @blp.route("/referrals/<uuid:referral_id>/withdraw")
    class WithdrawReferral(MethodView):
        @blp.arguments(referral_schemas.WithdrawInputSchema)
        @blp.response(200, referral_schemas.ReferralSchema)
        @errors(blp, *ERRORS)
        def post(self, data: dict[str, Any], referral_id: uuid.UUID) -> Any:
            referral = referrals.withdraw_referral(
                db_session(), current_principal(), referral_id, data["reason"]
            )
            commit()
            return referral

    @blp.route("/offices")
    class Offices(MethodView):
        @blp.response(200, referral_schemas.OfficeSchema(many=True))
        @errors(blp, 401)
        def get(self) -> Any:
            return offices.list_offices(db_session())

    @blp.route("/partners")
    class Partners(MethodView):
        @blp.response(200, referral_schemas.PartnerSchema(many=True))
        @errors(blp, 401)
        def get(self) -> Any:
            """The tenant's partner agencies (from its registry file)."""
            return list(tenant_context().tenant.partners)

    return blp
