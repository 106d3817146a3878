from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from ..models.vocabulary import (
    Attainment,
    CloseOutcome,
    ClosingAnswer,
    GoalField,
    OwnerSide,
    ReviewResult,
    SigningParty,
)
from .common import (
    Representation,
    StrictSchema,
    date_field,
    not_in_future,
    one_of,
    plausible_date,
    text,
)


class StepInputSchema(StrictSchema):
    description = text(1000)
    owner_side = one_of(OwnerSide, required=True)
    due_date = date_field(
        plausible_date, required=True, description="not after the goal's due date"
    )
    offer_id = fields.UUID(
        allow_none=True,
        metadata={
            "description": "the offer (HSDS service id of the tenant's directory) "
            "this step takes up; it must be in the directory"
        },
    )
    origin_step_id = fields.UUID(
        allow_none=True,
        metadata={
            "description": "in an amendment (Fortschreibung): the step of the previous "
            "version this step continues (a step of that version); its status carries over, "
            "and its open referrals move to this step when the amendment becomes active"
        },
    )


class GoalInputSchema(StrictSchema):
    field = one_of(GoalField, required=True)
    target = text(1000)
    due_date = date_field(plausible_date, required=True)
    steps = fields.List(
        fields.Nested(StepInputSchema), load_default=list, validate=validate.Length(max=30)
    )

    @validates_schema
    def steps_due_by_goal(self, data: dict[str, Any], **_: Any) -> None:
        due = data.get("due_date")
        late = [
            i for i, step in enumerate(data.get("steps") or []) if due and step["due_date"] > due
        ]
        if late:
            raise ValidationError(
                {str(i): {"due_date": ["must not be after the goal's due date"]} for i in late},
                "steps",
            )


class AgreementInputSchema(StrictSchema):
    goals = fields.List(
        fields.Nested(GoalInputSchema), required=True, validate=validate.Length(max=20)
    )


class StepSchema(Representation):
    id = fields.UUID()
    description = fields.String()
    owner_side = fields.String()
    due_date = fields.Date()
    status = fields.String()
    origin_step_id = fields.UUID(allow_none=True)
    offer_id = fields.UUID(allow_none=True, attribute="offer_service_id")


class GoalSchema(Representation):
    id = fields.UUID()
    field = fields.String()
    target = fields.String()
    due_date = fields.Date()
    attainment = fields.String(allow_none=True)
    steps = fields.List(fields.Nested(StepSchema))


class ReviewResultSchema(Representation):
    step_id = fields.UUID()
    result = fields.String()
    note = fields.String()


class ReviewSchema(Representation):
    id = fields.UUID()
    agreement_id = fields.UUID()
    created_at = fields.DateTime()
    created_by = fields.String()
    obstacles = fields.String()
    steps = fields.List(fields.Nested(ReviewResultSchema), attribute="results")


class AgreementSchema(Representation):
    id = fields.UUID()
    client_id = fields.UUID()
    version = fields.Integer()
    previous_id = fields.UUID(allow_none=True)
    status = fields.String()
    amendment_reason = fields.String(allow_none=True)
    client_signed_on = fields.Date(allow_none=True)
    counsellor_signed_on = fields.Date(allow_none=True)
    counsellor_signed_by = fields.String(allow_none=True)
    activated_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    outcome = fields.String(allow_none=True)
    balance = fields.String(allow_none=True)
    helped = fields.String(
        allow_none=True, metadata={"description": "closing question: did the agreement help"}
    )
    easier_to_keep_going = fields.String(
        allow_none=True,
        metadata={"description": "closing question: did it make it easier to keep going"},
    )
    next_review_due = fields.Date(
        allow_none=True,
        metadata={"description": "an active agreement's next review is due on this day"},
    )
    created_at = fields.DateTime()
    goals = fields.List(fields.Nested(GoalSchema))
    reviews = fields.List(fields.Nested(ReviewSchema))


class SignInputSchema(StrictSchema):
    party = one_of(SigningParty, required=True)
    signed_on = date_field(not_in_future, plausible_date, description="default: today")


class ReviewStepInputSchema(StrictSchema):
    step_id = fields.UUID(required=True)
    result = one_of(ReviewResult, required=True)
    note = text(2000, required=False, min_length=0, load_default="")


class ReviewInputSchema(StrictSchema):
    steps = fields.List(
        fields.Nested(ReviewStepInputSchema),
        required=True,
        validate=validate.Length(min=1, max=600),
        metadata={"description": "each step of this version at most once"},
    )
    obstacles = text(4000, required=False, min_length=0, load_default="")

    @validates_schema
    def each_step_once(self, data: dict[str, Any], **_: Any) -> None:
        ids = [entry["step_id"] for entry in data.get("steps", [])]
        if len(ids) != len(set(ids)):
            raise ValidationError("each step at most once", "steps")


class AmendmentInputSchema(StrictSchema):
    reason = text(2000)
    goals = fields.List(fields.Nested(GoalInputSchema), validate=validate.Length(max=20))


class AttainmentInputSchema(StrictSchema):
    goal_id = fields.UUID(required=True)
    attainment = one_of(Attainment, required=True)


class CloseInputSchema(StrictSchema):
    outcome = one_of(CloseOutcome, required=True)
    balance = text(8000)
    goals = fields.List(
        fields.Nested(AttainmentInputSchema),
        validate=validate.Length(max=20),
        metadata={"description": "each goal of this version at most once"},
    )
    helped = one_of(
        ClosingAnswer,
        allow_none=True,
        metadata={"description": "optional: did the agreement help? yes, partly, no"},
    )
    easier_to_keep_going = one_of(
        ClosingAnswer,
        allow_none=True,
        metadata={"description": "optional: did it make it easier to keep going? yes, partly, no"},
    )

    @validates_schema
    def each_goal_once(self, data: dict[str, Any], **_: Any) -> None:
        ids = [entry["goal_id"] for entry in data.get("goals") or []]
        if len(ids) != len(set(ids)):
            raise ValidationError("each goal at most once", "goals")
