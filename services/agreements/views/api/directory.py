"""Who the tenant's counsellors work with: its offices and its partner agencies.

Both mirror the tenant's registry file and hold no personal data, so these views read
without an audit entry and have nothing to commit.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from ...context import db_session, tenant_context
from ...operations import offices
from ...schemas import referrals as referral_schemas
from .edge import document, errors


class Offices(MethodView):
    @document.response(200, referral_schemas.OfficeSchema(many=True))
    @errors(401, 422)
    def get(self) -> Any:
        return offices.list_offices(db_session())


class Partners(MethodView):
    @document.response(200, referral_schemas.PartnerSchema(many=True))
    @errors(401, 422)
    def get(self) -> Any:
        """The tenant's partner agencies (from its registry file)."""
        return list(tenant_context().tenant.partners)
