"""From HTML form fields to the API's input shapes, validated by the API's own schemas, so a
form and a JSON request obey exactly the same rules."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time
from typing import Any

from marshmallow import Schema, ValidationError
from werkzeug.datastructures import MultiDict

from .messages import base_name, explain

FormErrors = dict[str, Any]


def load(schema: Schema, data: Mapping[str, Any]) -> tuple[dict[str, Any] | None, FormErrors]:
    try:
        return schema.load(data), {}
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {"_": error.messages}
        return None, messages


def text(form: MultiDict[str, str], name: str) -> str:
    return (form.get(name) or "").strip()


def count(form: MultiDict[str, str], name: str, default: int, maximum: int) -> int:
    """A number of form rows (the editor's goal and step slots): between 1 and ``maximum``;
    anything that is not a whole number means ``default`` (a hand-edited form never fails)."""
    raw = form.get(name, "")
    if not raw.isdigit() or len(raw) > 4:
        return default
    return max(1, min(maximum, int(raw)))


def optional(form: MultiDict[str, str], name: str) -> str | None:
    value = text(form, name)
    return value or None


def split_list(value: str) -> list[str]:
    return [item.strip() for item in value.replace(";", ",").split(",") if item.strip()]


def day_start(value: str | None) -> str | None:
    """A date field as an aware timestamp (start of that day, UTC), as consents expect."""
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return value  # the schema reports it
    return datetime.combine(day, time(0, 0), tzinfo=UTC).isoformat()


def client_input(form: MultiDict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "given_name": text(form, "given_name"),
        "family_name": text(form, "family_name"),
        "birth_date": text(form, "birth_date"),
        "country_of_origin": text(form, "country_of_origin").upper(),
        # one list per language select (first the preferred); a typed "ar, en" still works
        "languages": list(
            dict.fromkeys(
                code.lower() for value in form.getlist("languages") for code in split_list(value)
            )
        ),
        "arrival_date": text(form, "arrival_date"),
        "residence_status": optional(form, "residence_status"),
        "course_obligation": form.get("course_obligation") == "on",
        "postal_code": optional(form, "postal_code"),
    }
    imposed = optional(form, "course_obligation_imposed_by")
    if imposed:
        data["course_obligation_imposed_by"] = imposed
    return data


def consent_input(form: MultiDict[str, str], now: datetime) -> dict[str, Any]:
    signed_on = text(form, "signed_on")
    signed_at = day_start(signed_on)
    if signed_on == now.date().isoformat():
        signed_at = now.isoformat()  # given today: effective from now, not from midnight
    return {
        "recipient_kind": text(form, "recipient_kind"),
        "purposes": form.getlist("purposes"),
        "data_categories": form.getlist("data_categories"),
        "signed_at": signed_at,
        "expires_at": day_start(optional(form, "expires_on")),
    }


def assessment_input(form: MultiDict[str, str], fields: list[str]) -> dict[str, Any]:
    by_field: dict[str, Any] = {}
    for name in fields:
        entry: dict[str, Any] = {}
        for part in ("situation", "notes"):
            value = text(form, f"{name}-{part}")
            if value:
                entry[part] = value
        level = text(form, f"{name}-level")
        if level:
            entry["level"] = level
        needs = split_list(text(form, f"{name}-needs"))
        if needs:
            entry["needs"] = needs
        if entry:
            by_field[name] = entry
    return {"fields": by_field}


def goals_input(
    form: MultiDict[str, str], goal_slots: int, step_slots: int
) -> list[dict[str, Any]]:
    """``goals-<g>-field|target|due_date`` and ``goals-<g>-steps-<s>-description|owner_side|
    due_date``; wholly empty rows are skipped, half-filled ones go to validation."""
    goals = []
    for g in range(goal_slots):
        prefix = f"goals-{g}-"
        steps = []
        for s in range(step_slots):
            sp = f"{prefix}steps-{s}-"
            description = text(form, sp + "description")
            due = text(form, sp + "due_date")
            if not description and not due:
                continue
            step = {"description": description, "owner_side": text(form, sp + "owner_side"),
                    "due_date": due}  # fmt: skip
            if optional(form, sp + "offer_id"):
                step["offer_id"] = text(form, sp + "offer_id")
            if optional(form, sp + "origin_step_id"):  # an amendment's step continuing one
                step["origin_step_id"] = text(form, sp + "origin_step_id")
            steps.append(step)
        target = text(form, prefix + "target")
        due = text(form, prefix + "due_date")
        if not target and not due and not steps:
            continue
        goals.append(
            {"field": text(form, prefix + "field"), "target": target, "due_date": due,
             "steps": steps}
        )  # fmt: skip
    return goals


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, str]:
    """marshmallow's nested messages as ``{"goals-0-steps-1-due_date": "..."}``, matching
    the form's field names, so each error is shown beside its field; each message said for
    people (``portal.messages``: the field's label, what to do, in the page's language)."""
    flat: dict[str, str] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}-{key}" if prefix else str(key)
            flat.update(flatten_errors(value, name))
    elif isinstance(messages, list):
        if all(isinstance(m, str) for m in messages):
            name = base_name(prefix) or "_"
            said = dict.fromkeys(explain(name, m) for m in messages)  # once each, in order
            flat[name] = " ".join([*([flat[name]] if name in flat else []), *said])
        else:
            for index, value in enumerate(messages):
                flat.update(flatten_errors(value, f"{prefix}-{index}"))
    else:
        name = base_name(prefix) or "_"
        flat[name] = explain(name, str(messages))
    return flat
