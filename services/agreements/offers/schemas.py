"""The suggestions' request and answer in the JSON API (marshmallow, apart from the ORM)."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from ..models.vocabulary import GoalField
from ..schemas.common import Representation, StrictSchema, one_of, query_text
from .derive import DAY_PART_NAMES


class SuggestionQuerySchema(StrictSchema):
    field = one_of(GoalField, required=True, metadata={"description": "the goal's field"})
    lang = fields.String(
        load_default="de",
        validate=validate.OneOf(["de", "en"]),
        metadata={"description": "language of the reasons"},
    )
    day_parts = fields.List(
        fields.String(validate=validate.OneOf(list(DAY_PART_NAMES))),
        load_default=list,
        metadata={"description": "when the client can take part (repeat the parameter)"},
    )
    q = query_text(200, "free-text search in the offers")
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))


class ReasonSchema(Representation):
    code = fields.String(
        metadata={
            "description": "language, childcare, distance, schedule, "
            "places, full, wait, course_obligation, eligible, "
            "eligibility_unknown"
        }
    )
    text = fields.String()


class OfferLocationSchema(Representation):
    id = fields.UUID()
    name = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    postal_code = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)


class SuggestionSchema(Representation):
    rank = fields.Integer()
    score = fields.Integer()
    service = fields.Dict(
        metadata={
            "description": "the HSDS service (one-to-one fields and its Integra extension fields)"
        }
    )
    provider = fields.String()
    location = fields.Nested(OfferLocationSchema, allow_none=True)
    distance_km = fields.Float(allow_none=True)
    reasons = fields.List(fields.Nested(ReasonSchema))
    summary = fields.String(metadata={"description": "the reasons in one line"})


class SuggestionListSchema(Representation):
    client_id = fields.UUID()
    field = fields.String()
    items = fields.List(fields.Nested(SuggestionSchema))


def suggestion_items(suggestions: list[Any], lang: str) -> list[dict[str, Any]]:
    return [
        {
            "rank": rank,
            "score": s.score,
            "service": {**s.service.document, "id": str(s.service.id)},
            "provider": s.provider,
            "location": s.location,
            "distance_km": round(s.distance_km, 1) if s.distance_km is not None else None,
            "reasons": [{"code": r.code, "text": r.text(lang)} for r in s.reasons],
            "summary": s.summary(lang),
        }
        for rank, s in enumerate(suggestions, start=1)
    ]
