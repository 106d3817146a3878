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

from ..offers import schemas
from ..offers.derive import DAY_PART_NAMES
from ..offers.operations import matching
from .api.edge import call_and_commit, documented, nested_blueprint


class ClientSuggestions(MethodView):
    @documented(200, schemas.SuggestionListSchema, 404, query=schemas.SuggestionQuerySchema)
    def get(self, query: dict[str, Any], client_id: uuid.UUID) -> Any:
        """Offers of the tenant's directory for one of the client's goal fields, best first,
        each with the reasons it fits (German, or English with ``lang=en``)."""
        day_parts = 0
        for name in query["day_parts"]:
            day_parts |= DAY_PART_NAMES[name]
        found = call_and_commit(
            matching.suggest,
            client_id,
            query["field"],
            day_parts=day_parts,
            text=query.get("q"),
            limit=query["limit"],
        )
        return {
            "client_id": client_id,
            "field": query["field"],
            "items": schemas.suggestion_items(found, query["lang"]),
        }


def make_offers_api_blueprint() -> Blueprint:
    return nested_blueprint(
        "offers",
        "Offers of the tenant's directory.",
        [("/clients/<uuid:client_id>/suggestions", ClientSuggestions)],
    )
