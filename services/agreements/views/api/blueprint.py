"""The JSON API, /api/v1: which view serves which path, and the Blueprint that serves them.

The views are thin (parse, call one operation, commit at the edge) and live beside the
resources they serve; this module is the one place that maps paths to them. The order of
:data:`ROUTES` is the order of the paths in the OpenAPI document.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from .agreements import (
    AgreementAmendments,
    AgreementResource,
    AgreementReviews,
    ClientAgreements,
    CloseAgreement,
    SignAgreement,
)
from .clients import ClientAssessments, ClientConsents, ClientResource, Clients, RevokeConsent
from .directory import Offices, Partners
from .edge import admit_request
from .referrals import ReferralResource, Referrals, WithdrawReferral

#: Path (below /api/v1) → the view serving it.
ROUTES: tuple[tuple[str, type[MethodView]], ...] = (
    ("/clients", Clients),
    ("/clients/<uuid:client_id>", ClientResource),
    ("/clients/<uuid:client_id>/consents", ClientConsents),
    ("/consents/<uuid:consent_id>/revoke", RevokeConsent),
    ("/clients/<uuid:client_id>/assessments", ClientAssessments),
    ("/clients/<uuid:client_id>/agreements", ClientAgreements),
    ("/agreements/<uuid:agreement_id>", AgreementResource),
    ("/agreements/<uuid:agreement_id>/sign", SignAgreement),
    ("/agreements/<uuid:agreement_id>/reviews", AgreementReviews),
    ("/agreements/<uuid:agreement_id>/amendments", AgreementAmendments),
    ("/agreements/<uuid:agreement_id>/close", CloseAgreement),
    ("/referrals", Referrals),
    ("/referrals/<uuid:referral_id>", ReferralResource),
    ("/referrals/<uuid:referral_id>/withdraw", WithdrawReferral),
    ("/offices", Offices),
    ("/partners", Partners),
)


def make_api_blueprint() -> Blueprint:
    """Built per app, so no state is shared between tenants' apps: flask-smorest keeps each
    view's documentation, and Flask the request hooks, on the Blueprint object."""
    blp = Blueprint(
        "api",
        __name__,
        url_prefix="/api/v1",
        description="Integration agreements: clients, consents, assessments, agreements, "
        "reviews, referrals.",
    )
    blp.before_request(admit_request)
    for path, view in ROUTES:
        blp.add_url_rule(path, view_func=view)
    return blp
