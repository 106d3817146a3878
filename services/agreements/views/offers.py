"""The offer directory in the JSON API: suggestions of offers for a client's goal.

A blueprint of its own, nested in the API blueprint (``app.py``), so it shares the API's
bearer authentication, error format and OpenAPI document; thin views that parse, call one
operation and commit at the edge.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from ..context import commit, current_principal, db_session
from ..offers import schemas
from ..offers.derive import DAY_PART_NAMES
from ..offers.operations import matching
from .api.edge import READ_ERRORS, errors


def make_offers_api_blueprint() -> Blueprint:
    """Built per app, so no state is shared between tenants' apps."""
    blp = Blueprint("offers", __name__, description="Offers of the tenant's directory.")

    @blp.route("/clients/<uuid:client_id>/suggestions")
    class ClientSuggestions(MethodView):
        @blp.arguments(schemas.SuggestionQuerySchema, location="query")
        @blp.response(200, schemas.SuggestionListSchema)
        @errors(*READ_ERRORS, 404)
        def get(self, query: dict[str, Any], client_id: uuid.UUID) -> Any:
            """Offers of the tenant's directory for one of the client's goal fields, best first,
            each with the reasons it fits (German, or English with ``lang=en``)."""
            day_parts = 0
            for name in query["day_parts"]:
                day_parts |= DAY_PART_NAMES[name]
            found = matching.suggest(
                db_session(),
                current_principal(),
                client_id,
                query["field"],
                day_parts=day_parts,
                text=query.get("q"),
                limit=query["limit"],
            )
            commit()
            return {
                "client_id": client_id,
                "field": query["field"],
                "items": schemas.suggestion_items(found, query["lang"]),
            }

    return blp
