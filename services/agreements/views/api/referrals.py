"""Referrals of a step to a partner agency, with their closed-loop status."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from ...operations import referrals
from ...schemas import referrals as referral_schemas
from .edge import call_and_commit, documented


class Referrals(MethodView):
    @documented(
        200, referral_schemas.ReferralPageSchema, query=referral_schemas.ReferralQuerySchema
    )
    def get(self, query: dict[str, Any]) -> Any:
        items, total = call_and_commit(referrals.list_referrals, **query)
        return {
            "items": items,
            "total": total,
            "page": query["page"],
            "page_size": query["page_size"],
        }

    @documented(
        201,
        referral_schemas.ReferralSchema,
        404,
        409,
        body=referral_schemas.ReferralInputSchema,
        rules={
            404: "The client or the consent (`client_not_found`, `consent_not_found`).",
            409: "`consent_revoked`; `consent_not_valid`: the consent has expired or is not "
            "in effect yet; `referral_already_open`: the step has an open referral to this "
            "agency already. Nothing is sent.",
            422: "`consent_does_not_cover`: the consent is another person's, for another "
            "agency or not for this purpose; `step_not_in_active_agreement`: the step is not "
            "in the client's active agreement.",
        },
    )
    def post(self, data: dict[str, Any]) -> Any:
        """Refer a step to a partner agency, under a consent that covers it."""
        return call_and_commit(referrals.create_referral, data)


class ReferralResource(MethodView):
    @documented(200, referral_schemas.ReferralSchema, 404)
    def get(self, referral_id: uuid.UUID) -> Any:
        return call_and_commit(referrals.get_referral, referral_id)


class WithdrawReferral(MethodView):
    # No body (or ``{}``) withdraws without a reason.
    @documented(
        200,
        referral_schemas.ReferralSchema,
        404,
        409,
        body=referral_schemas.WithdrawInputSchema,
        optional_body=True,
        rules={
            409: "`referral_transition_not_allowed`: the referral is closed already "
            "(completed, rejected, aborted, withdrawn or revoked)."
        },
    )
    def post(self, data: dict[str, Any], referral_id: uuid.UUID) -> Any:
        return call_and_commit(referrals.withdraw_referral, referral_id, data["reason"])
