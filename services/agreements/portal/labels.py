"""Display names of the domain's closed vocabularies, translated (lazily, per request)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l

GOAL_FIELDS = {
    "language": _l("Language"),
    "education": _l("Education and training"),
    "work": _l("Work"),
    "childcare": _l("Childcare"),
    "recognition": _l("Recognition of qualifications"),
    "other": _l("Other"),
}
ASSESSMENT_FIELDS = {k: v for k, v in GOAL_FIELDS.items() if k != "other"}
OWNER_SIDES = {"client": _l("Client"), "institution": _l("Counselling office / institution")}
AGREEMENT_STATUSES = {
    "draft": _l("Draft"),
    "signed": _l("Partly signed"),
    "active": _l("Active"),
    "superseded": _l("Superseded by an amendment"),
    "closed": _l("Closed"),
}
STEP_STATUSES = {
    "open": _l("Open"),
    "done": _l("Done"),
    "partly": _l("Partly done"),
    "not_done": _l("Not done"),
}
REVIEW_RESULTS = {k: v for k, v in STEP_STATUSES.items() if k != "open"}
AGENCY_KINDS = {
    "auslaenderbehoerde": _l("Foreigners' office"),
    "jobcenter": _l("Job centre"),
    "arbeitsagentur": _l("Employment agency"),
}
PURPOSES = {
    "language": _l("Language course"),
    "education": _l("Education and training"),
    "work": _l("Work"),
    "childcare": _l("Childcare"),
    "recognition": _l("Recognition of qualifications"),
    "residence": _l("Residence"),
    "benefits": _l("Benefits"),
}
DATA_CATEGORIES = {
    "identity": _l("Identity"),
    "contact": _l("Contact details"),
    "residence_status": _l("Residence status"),
    "languages": _l("Languages"),
    "education": _l("Education"),
    "work_history": _l("Work history"),
    "qualifications": _l("Qualifications"),
    "family": _l("Family"),
    "health": _l("Health (special category)"),
    "assessment": _l("Assessment"),
    "agreement_goals": _l("Agreement goals"),
}
RESIDENCE_STATUSES = {
    "asylum_seeker": _l("Asylum seeker (Aufenthaltsgestattung)"),
    "recognised_refugee": _l("Recognised refugee"),
    "subsidiary_protection": _l("Subsidiary protection"),
    "temporary_protection": _l("Temporary protection (§ 24 AufenthG)"),
    "residence_permit": _l("Residence permit"),
    "settlement_permit": _l("Settlement permit"),
    "tolerated": _l("Tolerated (Duldung)"),
    "eu_citizen": _l("EU citizen"),
    "other": _l("Other"),
}
REFERRAL_STATUSES = {
    "requested": _l("Requested"),
    "sent": _l("Sent"),
    "received": _l("Received"),
    "accepted": _l("Accepted"),
    "rejected": _l("Rejected"),
    "scheduled": _l("Appointment scheduled"),
    "started": _l("Measure started"),
    "completed": _l("Completed"),
    "aborted": _l("Aborted"),
    "withdrawn": _l("Withdrawn"),
    "revoked": _l("Revoked (consent withdrawn)"),
}
#: History reasons meaning the referral never reached the agency because the client's consent
#: no longer allowed it (shown beside the referral's status and in its history).
NOT_SENT_REASONS = {
    "not_sent_consent_expired": _l("Not sent: consent expired"),
    "not_sent_consent_revoked": _l("Not sent: consent revoked"),
}


def not_sent_reason(history: Iterable[Any]) -> str | None:
    """The reason code of a referral's history saying it never reached the agency, if any."""
    return next((e.reason_code for e in history if e.reason_code in NOT_SENT_REASONS), None)


#: Reason codes of a referral's history. Codes without a label are shown as they are (the
#: notes of delivery_delayed and delivery_failed carry their own German headline).
REFERRAL_REASONS = {
    **NOT_SENT_REASONS,
    "status_answer": _l("Status information from the agency"),
    "status_confirmed": _l("The agency confirms the status"),
    "status_unknown_at_agency": _l("The agency does not know this referral"),
    "late_answer": _l("Late answer (the status stays)"),
    "case_closed": _l("Withdrawn: the case was closed"),
}
CLOSE_OUTCOMES = {
    "goals_reached": _l("Goals reached"),
    "handed_over": _l("Handed over"),
    "broke_off": _l("Broken off"),
    "moved_away": _l("Moved away"),
    "time_limit": _l("Time limit reached"),
}
ATTAINMENTS = {
    "reached": _l("Reached"),
    "partly": _l("Partly reached"),
    "not_reached": _l("Not reached"),
}
CLOSING_ANSWERS = {"yes": _l("Yes"), "partly": _l("Partly"), "no": _l("No")}
CLOSING_QUESTIONS = {
    "helped": _l("Did the agreement help you?"),
    "easier_to_keep_going": _l("Did it make it easier for you to keep going?"),
}
#: Label codes of the figures that are not a domain vocabulary.
FIGURE_LABELS = {
    "duration": {
        "contact_to_signed": _l("First contact → signed agreement"),
        "referral_to_first_answer": _l("Referral → first answer"),
        "referral_to_measure_start": _l("Referral → measure start"),
    },
}
ROLES = {
    "counsellor": _l("Counsellor"),
    "office_lead": _l("Office lead"),
    "tenant_admin": _l("Tenant administrator"),
    "evaluator": _l("Evaluator"),
}
LANGUAGE_NAMES = {
    "de": "Deutsch",
    "en": "English",
    "ar": "العربية",
    "fa": "فارسی",
    "tr": "Türkçe",
    "ru": "Русский",
    "uk": "Українська",
    "ps": "پښتو",
    "ku": "Kurdî",
    "ti": "ትግርኛ",
}

ALL = {
    "goal_field": GOAL_FIELDS,
    "owner_side": OWNER_SIDES,
    "agreement_status": AGREEMENT_STATUSES,
    "step_status": STEP_STATUSES,
    "agency": AGENCY_KINDS,
    "purpose": PURPOSES,
    "data_category": DATA_CATEGORIES,
    "residence_status": RESIDENCE_STATUSES,
    "referral_status": REFERRAL_STATUSES,
    "referral_reason": REFERRAL_REASONS,
    "outcome": CLOSE_OUTCOMES,
    "attainment": ATTAINMENTS,
    "closing_answer": CLOSING_ANSWERS,
    "closing_question": CLOSING_QUESTIONS,
    "role": ROLES,
}


def label(kind: str, value: str | None) -> str:
    if value is None:
        return "–"
    return str(ALL[kind].get(value, value))
