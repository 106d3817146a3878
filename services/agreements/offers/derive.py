"""What matching and search read, derived from an HSDS service document at import: the day
parts it runs in, its languages, the eligibility bit sets, the folded search text, and the
times in words for pages and the agreement PDF."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from enum import IntFlag
from typing import Any

#: Bits of ``OfferService.residence_mask``; stable values (stored), never renumbered.
RESIDENCE_BITS = {
    "asylum_seeker": 1 << 0,
    "recognised_refugee": 1 << 1,
    "subsidiary_protection": 1 << 2,
    "temporary_protection": 1 << 3,
    "residence_permit": 1 << 4,
    "settlement_permit": 1 << 5,
    "tolerated": 1 << 6,
    "eu_citizen": 1 << 7,
    "other": 1 << 8,
}
#: Bits of ``OfferService.programme_mask``: the counselling programmes (known from the
#: client's office) and the benefit systems (known only from the case, see matching).
PROGRAMME_BITS = {"mbe": 1 << 0, "jmd": 1 << 1, "sgb2": 1 << 2, "sgb3": 1 << 3}
OFFICE_PROGRAMMES = PROGRAMME_BITS["mbe"] | PROGRAMME_BITS["jmd"]

#: ISO 639-2/3 codes HSDS data often uses, to the ISO 639-1 codes clients are recorded with.
LANGUAGE_CODES = {
    "ara": "ar",
    "deu": "de",
    "ger": "de",
    "eng": "en",
    "fas": "fa",
    "per": "fa",
    "prs": "fa",
    "tur": "tr",
    "rus": "ru",
    "ukr": "uk",
    "pus": "ps",
    "kur": "ku",
    "kmr": "ku",
    "ckb": "ku",
    "tir": "ti",
    "fra": "fr",
    "fre": "fr",
    "spa": "es",
    "ita": "it",
    "pol": "pl",
    "ron": "ro",
    "rum": "ro",
    "bul": "bg",
    "srp": "sr",
    "hrv": "hr",
    "bos": "bs",
    "alb": "sq",
    "sqi": "sq",
    "som": "so",
    "amh": "am",
    "urd": "ur",
    "vie": "vi",
}


class DayPart(IntFlag):
    """When an offer runs; a client's wish is matched against these bits."""

    MORNING = 1  # starts before 12:00
    AFTERNOON = 2  # runs between 12:00 and 17:00
    EVENING = 4  # runs after 17:00
    WEEKEND = 8  # on Saturday or Sunday


DAY_PART_NAMES = {
    "morning": DayPart.MORNING,
    "afternoon": DayPart.AFTERNOON,
    "evening": DayPart.EVENING,
    "weekend": DayPart.WEEKEND,
}
WEEKDAYS_DE = {"MO": "Mo", "TU": "Di", "WE": "Mi", "TH": "Do", "FR": "Fr", "SA": "Sa", "SU": "So"}
WEEKDAYS_EN = {
    "MO": "Mon",
    "TU": "Tue",
    "WE": "Wed",
    "TH": "Thu",
    "FR": "Fri",
    "SA": "Sat",
    "SU": "Sun",
}


def _minutes(value: Any) -> int | None:
    if not isinstance(value, str) or ":" not in value:
        return None
    try:
        hours, minutes = value.split(":")[:2]
        return int(hours) * 60 + int(minutes)
    except ValueError:
        return None


def _weekdays(schedule: dict[str, Any]) -> list[str]:
    byday = schedule.get("byday") or ""
    return [day.strip()[-2:].upper() for day in byday.split(",") if day.strip()]


def day_parts(schedules: Iterable[dict[str, Any]]) -> int:
    """The day parts covered by HSDS schedules (opens_at/closes_at and byday)."""
    parts = DayPart(0)
    for schedule in schedules:
        opens, closes = _minutes(schedule.get("opens_at")), _minutes(schedule.get("closes_at"))
        if opens is not None:
            closes = closes if closes is not None else opens + 60
            if opens < 12 * 60:
                parts |= DayPart.MORNING
            if opens < 17 * 60 and closes > 12 * 60:
                parts |= DayPart.AFTERNOON
            if closes > 17 * 60:
                parts |= DayPart.EVENING
        if any(day in ("SA", "SU") for day in _weekdays(schedule)):
            parts |= DayPart.WEEKEND
    return int(parts)


def schedules_of(service: dict[str, Any]) -> list[dict[str, Any]]:
    """The schedules that say when a service runs: its own and its locations'."""
    found = list(service.get("schedules") or [])
    for at_location in service.get("service_at_locations") or []:
        found.extend(at_location.get("schedules") or [])
    return found


def times_in_words(schedules: Iterable[dict[str, Any]], lang: str = "de") -> str:
    """ "Mo, Di, Do 09:00–12:30" for each schedule (its description where it has no times)."""
    names = WEEKDAYS_EN if lang == "en" else WEEKDAYS_DE
    texts = []
    for schedule in schedules:
        opens, closes = schedule.get("opens_at"), schedule.get("closes_at")
        days = ", ".join(names.get(day, day) for day in _weekdays(schedule))
        if opens:
            span = str(opens)[:5] + (f"–{str(closes)[:5]}" if closes else "")
            texts.append(f"{days} {span}".strip())
        elif schedule.get("description"):
            texts.append(str(schedule["description"]))
    return "; ".join(dict.fromkeys(texts))


def language_code(code: Any) -> str | None:
    if not isinstance(code, str) or not code.strip():
        return None
    code = code.strip().lower().split("-")[0]
    return LANGUAGE_CODES.get(code, code)


def language_codes(service: dict[str, Any]) -> set[str]:
    codes = {language_code(item.get("code")) for item in service.get("languages") or []}
    return {code for code in codes if code}


def mask(values: Iterable[str] | None, bits: dict[str, int]) -> int | None:
    """A bit set of the given codes; None (no restriction) when there are none."""
    if not values:
        return None
    return sum(bits[value] for value in set(values) if value in bits) or None


def fold(text: str) -> str:
    """Lower case without accents (ä → a, ß → ss), as PostgreSQL's unaccent reads German."""
    text = text.lower().replace("ß", "ss")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def search_text(
    service: dict[str, Any], organization_name: str, terms: Iterable[str], places: Iterable[str]
) -> str:
    """What free-text search reads: names, description, provider, kinds and places, folded."""
    parts = [
        service.get("name"),
        service.get("alternate_name"),
        service.get("description"),
        organization_name,
        *terms,
        *places,
    ]
    return fold(" ".join(str(part) for part in parts if part))
