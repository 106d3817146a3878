"""Text that every store and every channel can carry: no control characters, no lone
surrogates, no non-characters; JSON that is not absurdly deep.

A NUL in a family name is refused by PostgreSQL and by XML 1.0, so one typed (or pasted)
character made every XML delivery of that client fail for good; a lone surrogate (valid in
JSON escapes, ``"\\ud800"``) cannot be encoded as UTF-8 at all. Such input is refused at the
edge with the field it came in, before anything is stored. Tab, line feed and carriage
return stay allowed: notes and balances span lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any

#: C0 controls but tab, LF and CR; DEL and the C1 controls; UTF-16 surrogates; the
#: non-characters U+FFFE and U+FFFF (not allowed in XML).
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
#: Deeper JSON than any request needs; Python's parser would otherwise recurse until it fails.
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:\\.|[^"\\])*"')
_BRACKETS = re.compile(rb"[\[\]{}]")

UNSAFE_TEXT = "Control characters and invalid Unicode are not allowed."
#: Timestamps outside this range are typing errors (and a year 1 with a +14:00 offset does
#: not even convert to UTC).
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def has_unsafe_text(value: str) -> bool:
    return _UNSAFE.search(value) is not None


def has_unsafe_line(value: str) -> bool:
    """A one-line value (a query parameter, a name in a URL): no line breaks or tabs either."""
    return has_unsafe_text(value) or any(ch in value for ch in "\t\r\n")


def unsafe_text_paths(data: Any, path: str = "") -> Iterator[str]:
    """The paths (``goals.0.target``) of every string, or mapping key, in ``data`` that holds
    an unsafe character."""
    if isinstance(data, str):
        if has_unsafe_text(data):
            yield path or "_"
    elif isinstance(data, Mapping):
        for key, value in data.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and has_unsafe_text(key):
                yield child
            yield from unsafe_text_paths(value, child)
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            yield from unsafe_text_paths(value, f"{path}.{index}" if path else str(index))


def json_depth(body: bytes) -> int:
    """How deeply the arrays and objects of a JSON text nest (strings are skipped)."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub(b'""', body)):
        if bracket in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def safe_text(value: str) -> None:
    """Refuse text no store or channel can carry (a marshmallow validator)."""
    from marshmallow import ValidationError

    if has_unsafe_text(value):
        raise ValidationError(UNSAFE_TEXT)


def sane_datetime(value: datetime) -> None:
    """Refuse timestamps that are typing errors or do not convert to UTC (a marshmallow
    validator for aware datetime fields)."""
    from marshmallow import ValidationError

    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValidationError("out of range") from None
    if not EARLIEST <= utc < LATEST:
        raise ValidationError("must be between 1900 and 2200")


def sane_date(value: date) -> None:
    from marshmallow import ValidationError

    if not EARLIEST.date() <= value < LATEST.date():
        raise ValidationError("must be between 1900 and 2200")
