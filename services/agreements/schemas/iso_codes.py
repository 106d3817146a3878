"""The country and language codes a client record accepts: ISO 3166-1 alpha-2 and ISO 639
as the Unicode CLDR (through Babel's locale data) names them, so every accepted code has a
German and an English name for the portal's lists (and "XX" is refused)."""

from __future__ import annotations

import re
from functools import cache

from babel import Locale
from marshmallow import ValidationError

#: CLDR regions with an alpha-2 code that are no country of origin (unions, pseudo-regions).
NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})
#: CLDR language codes that name no language (undetermined, no content, several, missing).
NOT_LANGUAGES = frozenset({"und", "zxx", "mul", "mis"})
COUNTRY_MESSAGE = "ISO 3166-1 alpha-2 code, e.g. SY, UA, AF"
LANGUAGE_MESSAGE = "ISO 639 code, e.g. ar, uk, fa, de"


@cache
def country_codes() -> frozenset[str]:
    return frozenset(
        code
        for code in map(str, Locale("en").territories)
        if re.fullmatch("[A-Z]{2}", code) and code not in NOT_COUNTRIES
    )


@cache
def language_codes() -> frozenset[str]:
    return frozenset(
        code
        for code in map(str, Locale("en").languages)
        if re.fullmatch("[a-z]{2,3}", code) and code not in NOT_LANGUAGES
    )


def known_country(value: str) -> None:
    if value not in country_codes():
        raise ValidationError(COUNTRY_MESSAGE)


def known_language(value: str) -> None:
    if value not in language_codes():
        raise ValidationError(LANGUAGE_MESSAGE)


@cache
def country_names(lang: str) -> tuple[tuple[str, str], ...]:
    """(code, name) of every accepted country, by its name in ``lang`` (de, en)."""
    names = Locale.parse(lang).territories
    return tuple(sorted(((c, names.get(c, c)) for c in country_codes()), key=_by_name))


@cache
def language_names(lang: str) -> tuple[tuple[str, str], ...]:
    names = Locale.parse(lang).languages
    return tuple(sorted(((c, names.get(c, c)) for c in language_codes()), key=_by_name))


@cache
def country_name_map(lang: str) -> dict[str, str]:
    return dict(country_names(lang))


@cache
def language_name_map(lang: str) -> dict[str, str]:
    return dict(language_names(lang))


def _by_name(item: tuple[str, str]) -> str:
    from unicodedata import normalize

    return normalize("NFKD", item[1].casefold())
