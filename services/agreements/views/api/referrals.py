"""Referrals of a step to a partner agency, with their closed-loop status."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from ...operations import referrals
from ...schemas import referrals as referral_schemas
from .edge import ERRORS, call_and_commit, document, errors


class Referrals(MethodView):
    @document.arguments(referral_schemas.ReferralQuerySchema, location="query")
    @document.response(200, referral_schemas.ReferralPageSchema)
    @errors(401, 403, 422)
    def get(self, query: dict[str, Any]) -> Any:
        items, total = call_and_commit(referrals.list_referrals, **query)
        return {
            "items": items,
            "total": total,
            "page": query["page"],
            "page_size": query["page_size"],
        }

    @document.arguments(referral_schemas.ReferralInputSchema)
    @document.response(201, referral_schemas.ReferralSchema)
    @errors(*ERRORS)
    def post(self, data: dict[str, Any]) -> Any:
        """Refer a step to a partner agency, under a consent that covers it."""
        return call_and_commit(referrals.create_referral, data)


class ReferralResource(MethodView):
    @document.response(200, referral_schemas.ReferralSchema)
    @errors(401, 403, 404)
    def get(self, referral_id: uuid.UUID) -> Any:
        return call_and_commit(referrals.get_referral, referral_id)


class WithdrawReferral(MethodView):
    @document.arguments(referral_schemas.WithdrawInputSchema)
    @document.response(200, referral_schemas.ReferralSchema)
    @errors(*ERRORS)
    def post(self, data: dict[str, Any], referral_id: uuid.UUID) -> Any:
        return call_and_commit(referrals.withdraw_referral, referral_id, data["reason"])
