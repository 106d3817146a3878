"""Why an offer fits, in words (German, and English when asked): each reason says one fact
the ranking counted, so the words and the order always agree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import derive

if TYPE_CHECKING:
    from ..models import OfferService
    from .matching import ClientFacts

#: Language names as the reasons say them (ISO 639-1 codes; other codes are shown as they are).
LANGUAGE_NAMES = {
    "ar": ("Arabisch", "Arabic"),
    "fa": ("Persisch (Farsi/Dari)", "Persian (Farsi/Dari)"),
    "tr": ("Türkisch", "Turkish"),
    "ru": ("Russisch", "Russian"),
    "uk": ("Ukrainisch", "Ukrainian"),
    "ps": ("Paschtu", "Pashto"),
    "ku": ("Kurdisch", "Kurdish"),
    "ti": ("Tigrinya", "Tigrinya"),
    "en": ("Englisch", "English"),
    "fr": ("Französisch", "French"),
    "es": ("Spanisch", "Spanish"),
    "so": ("Somali", "Somali"),
    "pl": ("Polnisch", "Polish"),
    "ro": ("Rumänisch", "Romanian"),
    "bg": ("Bulgarisch", "Bulgarian"),
    "sq": ("Albanisch", "Albanian"),
    "am": ("Amharisch", "Amharic"),
    "ur": ("Urdu", "Urdu"),
    "it": ("Italienisch", "Italian"),
    "sr": ("Serbisch", "Serbian"),
    "vi": ("Vietnamesisch", "Vietnamese"),
}
#: How an offer of a field uses a language.
LANGUAGE_VERBS = {
    "language": ("unterrichtet auf", "taught in"),
    "education": ("unterrichtet auf", "taught in"),
    "childcare": ("betreut auf", "care in"),
}
COUNSELS_IN = ("berät auf", "counselling in")
DAY_PART_WORDS = {
    derive.DayPart.MORNING: ("vormittags", "mornings"),
    derive.DayPart.AFTERNOON: ("nachmittags", "afternoons"),
    derive.DayPart.EVENING: ("abends", "evenings"),
    derive.DayPart.WEEKEND: ("am Wochenende", "at weekends"),
}


@dataclass(frozen=True)
class Reason:
    code: str
    de: str
    en: str

    def text(self, lang: str = "de") -> str:
        return self.en if lang == "en" else self.de


def _language_names(codes: list[str]) -> tuple[str, str]:
    names = [LANGUAGE_NAMES.get(code, (code, code)) for code in codes]
    return " und ".join(n[0] for n in names), " and ".join(n[1] for n in names)


def _distance(km: float) -> Reason:
    if km < 1:
        return Reason("distance", "unter 1 km", "under 1 km")
    shown = f"{km:.0f}"
    return Reason("distance", f"{shown} km", f"{shown} km")


def reasons_for(
    service: OfferService,
    facts: ClientFacts,
    field: str,
    distance_km: float | None,
    day_parts: int,
    language_matched: bool,
    eligibility_confirmed: bool,
) -> list[Reason]:
    """The reasons for one ranked offer, in the order the issue's counsellors read them:
    language, childcare, distance, time, places, eligibility."""
    reasons: list[Reason] = []
    if language_matched:
        shared = sorted(derive.language_codes(service.document) & facts.languages)
        verb = LANGUAGE_VERBS.get(field, COUNSELS_IN)
        de, en = _language_names(shared)
        reasons.append(Reason("language", f"{verb[0]} {de}", f"{verb[1]} {en}"))
    if service.childcare and facts.needs_childcare:
        reasons.append(Reason("childcare", "Kinderbetreuung vor Ort", "childcare on site"))
    if distance_km is not None:
        reasons.append(_distance(distance_km))
    fitting = derive.DayPart(service.day_parts & day_parts)
    if fitting:
        words = [w for part, w in DAY_PART_WORDS.items() if part in fitting]
        reasons.append(
            Reason("schedule", ", ".join(w[0] for w in words), ", ".join(w[1] for w in words))
        )
    if service.free_places is not None and service.free_places > 0:
        reasons.append(Reason("places", "Plätze frei", "places available"))
    elif service.free_places == 0:
        reasons.append(Reason("full", "ausgebucht", "fully booked"))
    if (service.free_places is None or service.free_places == 0) and service.wait_weeks is not None:
        weeks = service.wait_weeks
        reasons.append(
            Reason(
                "wait",
                f"Wartezeit etwa {weeks} Wochen" if weeks != 1 else "Wartezeit etwa 1 Woche",
                f"wait about {weeks} weeks" if weeks != 1 else "wait about 1 week",
            )
        )
    if service.course_obligation == "admitted" and facts.course_obligation:
        reasons.append(
            Reason(
                "course_obligation",
                "§ 44a-Verpflichtung: Platz vorgesehen",
                "§ 44a obligation: place guaranteed",
            )
        )
    if eligibility_confirmed:
        reasons.append(Reason("eligible", "Voraussetzungen erfüllt", "meets the requirements"))
    elif service.programme_mask and not service.programme_mask & facts.programmes:
        reasons.append(
            Reason(
                "eligibility_unknown",
                "Zugang klären: Jobcenter- oder Arbeitsagentur-Kundschaft vorausgesetzt",
                "check access: for clients of the Jobcenter or employment agency",
            )
        )
    return reasons
