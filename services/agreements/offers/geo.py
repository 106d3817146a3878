"""Where a German postcode is (the vendored centroid table, ``postcodes/de.csv``; no network)
and how far apart two points are."""

from __future__ import annotations

import csv
import math
from functools import cache
from pathlib import Path

POSTCODE_TABLE = Path(__file__).resolve().parent / "postcodes" / "de.csv"
EARTH_RADIUS_KM = 6371.0088
#: Kilometres per degree of latitude (and of longitude at the equator).
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180


@cache
def _table() -> dict[str, tuple[float, float]]:
    with POSTCODE_TABLE.open(encoding="utf-8", newline="") as handle:
        return {
            row["postal_code"]: (float(row["latitude"]), float(row["longitude"]))
            for row in csv.DictReader(handle)
        }


def postcode_point(postal_code: str | None) -> tuple[float, float] | None:
    """(latitude, longitude) of a German postcode's centroid, or None if unknown."""
    if not postal_code:
        return None
    return _table().get(postal_code.strip())


def known_postcode(postal_code: str) -> bool:
    return postal_code in _table()


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine) in kilometres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
