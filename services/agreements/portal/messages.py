"""What a person reads when a form is refused: the field by its label, in German (English when
switched), and what to do. The API's schemas keep their machine-readable English messages
(and the API its codes); here they are translated, and a message this module does not know
becomes "please check" rather than reaching the page as it is."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from tenants.text import UNSAFE_TEXT

from . import labels

#: Form field names (as the templates name them) and their labels.
FIELD_LABELS = {
    "given_name": _l("Given name"),
    "family_name": _l("Family name"),
    "birth_date": _l("Date of birth"),
    "arrival_date": _l("Date of arrival"),
    "country_of_origin": _l("Country of origin"),
    "languages": _l("Languages"),
    "postal_code": _l("Postcode"),
    "residence_status": _l("Residence status"),
    "course_obligation": _l("Obligation imposed"),
    "course_obligation_imposed_by": _l("Imposed by"),
    "recipient_kind": _l("Recipient"),
    "purposes": _l("Purposes"),
    "purpose": _l("Purpose"),
    "data_categories": _l("Data categories"),
    "signed_at": _l("Signed on"),
    "signed_on": _l("Signed on"),
    "expires_at": _l("Valid until"),
    "expires_on": _l("Valid until"),
    "fields": _l("Assessment"),
    "goals": _l("Goals"),
    "steps": _l("Steps"),
    "party": _l("Signed by"),
    "outcome": _l("Outcome"),
    "balance": _l("Joint balance"),
    "obstacles": _l("Obstacles"),
    "reason": _l("Reason"),
    "note": _l("Note"),
    "consent_id": _l("Consent"),
    "helped": labels.CLOSING_QUESTIONS["helped"],
    "easier_to_keep_going": labels.CLOSING_QUESTIONS["easier_to_keep_going"],
    "username": _l("Username"),
    "display_name": _l("Name"),
    "role": _l("Role"),
    "office": _l("Office"),
    "password": _l("Initial password"),
    "external_subject": _l("Subject at the identity provider (sub)"),
    "responsible_id": _l("Responsible counsellor"),
    "from": _l("From"),
    "to": _l("To"),
    "name": _l("Name"),
    "description": _l("Description"),
    "status": _l("Status"),
    "integra_capacity": _l("Capacity"),
    "integra_free_places": _l("Free places"),
    "integra_wait_weeks": _l("Wait in weeks"),
}
_PARTS = {
    "field": _l("Field"),
    "target": _l("Goal"),
    "due_date": _l("Due date"),
    "description": _l("Step"),
    "owner_side": _l("Who does it"),
    "situation": _l("Situation"),
    "level": _l("Level"),
    "needs": _l("Needs"),
    "notes": _l("Notes"),
    "result": _l("Result"),
    "attainment": _l("Attainment"),
}
#: Fields that hold a list: "too short" there means "choose at least one".
LIST_FIELDS = {"languages", "purposes", "data_categories", "goals", "steps", "fields"}

_INDEX = re.compile(r"(-\d+)+$")
_GOAL_STEP = re.compile(r"^goals-(\d+)-(?:steps-(\d+)-)?(\w+)$")
_AREA = re.compile(r"^(?:fields-)?(language|education|work|childcare|recognition)-(\w+)$")


def base_name(name: str) -> str:
    """Without a list's item index: ``languages-1`` → ``languages``."""
    return _INDEX.sub("", name)


def field_label(name: str) -> str:
    """``goals-0-steps-1-due_date`` → "Goal 1, step 2: Due date"; a plain name → its label."""
    name = base_name(name)
    if name in FIELD_LABELS:
        return str(FIELD_LABELS[name])
    if match := _GOAL_STEP.match(name):
        goal, step, part = match.groups()
        what = str(_PARTS.get(part, FIELD_LABELS.get(part, _l("Entry"))))
        if step is not None:
            return _("Goal %(goal)s, step %(step)s: %(what)s", goal=int(goal) + 1,
                     step=int(step) + 1, what=what)  # fmt: skip
        return _("Goal %(goal)s: %(what)s", goal=int(goal) + 1, what=what)
    if match := _AREA.match(name):
        area, part = match.groups()
        return f"{labels.label('goal_field', area)}: {_PARTS.get(part, _l('Entry'))}"
    head, _sep, tail = name.partition("-")
    if head in _PARTS:  # the review's result-<step id>, the closing's attainment-<goal id>
        return str(_PARTS[head])
    return str(FIELD_LABELS.get(tail, _l("Entry")))


def _length(name: str, low: str, high: str | None) -> str:
    if base_name(name).split("-")[-1] in LIST_FIELDS:
        return _("Please choose at least %(low)s entry for “%(field)s”.", low=low,
                 field=field_label(name))  # fmt: skip
    if low in ("0", "1") and high:
        return _("Please fill in “%(field)s” (at most %(high)s characters).",
                 field=field_label(name), high=high)  # fmt: skip
    return _("Please fill in “%(field)s” with at least %(low)s characters.",
             field=field_label(name), low=low)  # fmt: skip


_Explainer = Callable[[str, re.Match[str]], str]
#: Known messages (marshmallow's, the schemas' own, the operations' field notes) → a sentence.
_KNOWN: list[tuple[re.Pattern[str], _Explainer]] = [
    (re.compile(r"^(Missing data for required field\.|Field may not be null\.|required)$"),
     lambda n, m: _("Please fill in “%(field)s”.", field=field_label(n))
     if base_name(n).split("-")[-1] not in LIST_FIELDS
     else _("Please choose at least one entry for “%(field)s”.", field=field_label(n))),
    (re.compile(r"^Length must be between (\d+) and (\d+)\.$"),
     lambda n, m: _length(n, m.group(1), m.group(2))),
    (re.compile(r"^Shorter than minimum length (\d+)\.$"),
     lambda n, m: _length(n, m.group(1), None)),
    (re.compile(r"^Longer than maximum length (\d+)\.$"),
     lambda n, m: _("“%(field)s” is too long: at most %(high)s, please shorten it.",
                    field=field_label(n), high=m.group(1))),
    (re.compile(r"^(Not a valid date(time)?\.|out of range|YYYY-MM-DD|"
                r"must be between 1900 and 2200)$"),
     lambda n, m: _("Please enter “%(field)s” as a complete date (day, month, year).",
                    field=field_label(n))),
    (re.compile(r"^(Must be one of: .*|Not a valid UUID\.|unknown role|unknown office)$"),
     lambda n, m: _("Please choose “%(field)s” from the list.", field=field_label(n))),
    (re.compile(r"^(Not a valid (integer|number)\.|Enter a whole number\.)$"),
     lambda n, m: _("Please enter a whole number for “%(field)s”.", field=field_label(n))),
    (re.compile(r"^Must be greater than or equal to (\d+) and less than or equal to (\d+)\.$"),
     lambda n, m: _("Please enter a number from %(low)s to %(high)s for “%(field)s”.",
                    low=m.group(1), high=m.group(2), field=field_label(n))),
    (re.compile(r"^must not be in the future$"),
     lambda n, m: _("“%(field)s” must not be in the future.", field=field_label(n))),
    (re.compile(r"^must be after 1900$"),
     lambda n, m: _("“%(field)s” must be after 1900: please check the year.",
                    field=field_label(n))),
    (re.compile(r"^must be within the next ten years$"),
     lambda n, m: _("“%(field)s” must be within the next ten years: please check the year.",
                    field=field_label(n))),
    (re.compile(r"^must not be before the birth date$"),
     lambda n, m: _("“%(field)s” must not be before the date of birth.", field=field_label(n))),
    (re.compile(r"^must not be after the arrival date$"),
     lambda n, m: _("“%(field)s” must not be after the date of arrival.", field=field_label(n))),
    (re.compile(r"^name who imposed the § 44a obligation$"),
     lambda n, m: _("Please choose who imposed the obligation to attend the course.")),
    (re.compile(r"^must be after signed_at$"),
     lambda n, m: _("“%(field)s” must be after the day of signing.", field=field_label(n))),
    (re.compile(r"^(duplicates|each (step|goal) at most once)$"),
     lambda n, m: _("Please choose each entry of “%(field)s” only once.", field=field_label(n))),
    (re.compile(r"^record at least one field$"),
     lambda n, m: _("Please fill in at least one area of the assessment.")),
    (re.compile(r"^Enter at least one goal\.$"),
     lambda n, m: _("Please enter at least one goal with its target and due date.")),
    (re.compile(r"^must not be after the goal's due date$"),
     lambda n, m: _("“%(field)s” is after the goal's due date: please choose an earlier date.",
                    field=field_label(n))),
    (re.compile(r"^ISO 3166-1 alpha-2 code.*$"),
     lambda n, m: _("Please choose the country of origin from the list.")),
    (re.compile(r"^ISO 639 code.*$"), lambda n, m: _("Please choose the languages from the list.")),
    (re.compile(r"^German postcode.*$"),
     lambda n, m: _("Please enter a German postcode of five digits, e.g. 79098.")),
    (re.compile(r"^taken$"),
     lambda n, m: _("This “%(field)s” is already taken: please choose another one.",
                    field=field_label(n))),
    (re.compile(r"^too short$"),
     lambda n, m: _("“%(field)s” is too short: please enter at least 12 characters.",
                    field=field_label(n))),
    (re.compile(r"^not for this role$"),
     lambda n, m: _("Leave “%(field)s” empty for this role.", field=field_label(n))),
    (re.compile(r"^not an active counsellor of the office$"),
     lambda n, m: _("Please choose an active counsellor of this office.")),
    (re.compile("^" + re.escape(UNSAFE_TEXT) + "$"),
     lambda n, m: _("“%(field)s” contains control characters (for example from a copied "
                    "text): please retype it.", field=field_label(n))),
]  # fmt: skip


def explain(name: str, raw: str) -> str:
    """One sentence for the problem ``raw`` (a schema's message) with the field ``name``."""
    for pattern, explainer in _KNOWN:
        if match := pattern.match(raw.strip()):
            return explainer(name, match)
    if name == "_":
        return _("Please check your entries.")
    return _("Please check “%(field)s”.", field=field_label(name))


#: What was saved, said after the redirect (``?saved=<code>``); unknown codes say nothing.
SAVED = {
    "client_created": _l("The client was registered."),
    "client_updated": _l("The changes were saved."),
    "client_unchanged": _l("Nothing was changed."),
    "consent": _l("The consent was recorded."),
    "consent_revoked": _l("The consent was revoked."),
    "assessment": _l("The assessment was saved."),
    "draft": _l("The draft agreement was saved."),
    "signed": _l("The signature was recorded."),
    "review": _l("The review was saved."),
    "closed": _l("The agreement was closed."),
    "amendment": _l("An amendment was started: change the goals and steps, then sign again."),
    "referral": _l("The referral was created; its status is shown beside the step."),
    "referral_withdrawn": _l("The referral was withdrawn."),
    "handed_over": _l("The case was handed over."),
    "user_created": _l("The user was created."),
    "user_deactivated": _l("The user was deactivated."),
    "user_reactivated": _l("The user was reactivated."),
}


def saved_message() -> str | None:
    from flask import request

    code = request.args.get("saved")
    return str(SAVED[code]) if code in SAVED else None
