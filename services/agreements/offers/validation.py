"""Validation against the vendored HSDS 3 JSON Schemas (``hsds/schema``) and Integra's own
extension schema, with every error named by its JSON path (``services[1].status``).

jsonschema (the reference implementation of JSON Schema for Python, with ``referencing`` for
the schemas' relative ``$ref``s) checks the documents; the schemas carry no ``$schema``, so
they are read as Draft 2020-12. Formats are checked where jsonschema can (uuid, email,
date-time); ``uri`` needs a package Integra does not install and is not checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

HERE = Path(__file__).resolve().parent
SCHEMA_DIR = HERE / "hsds" / "schema"
EXAMPLES_DIR = HERE / "hsds" / "examples"
EXTENSION_SCHEMA = HERE / "integra_extension.schema.json"
#: How many problems one refused batch reports at most (the first ones, by path).
MAX_PROBLEMS = 50


@dataclass(frozen=True)
class Problem:
    """One reason a record is refused: where (a JSON path, or a file and row) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@cache
def schema(name: str) -> dict[str, Any]:
    """A vendored HSDS schema by its object name (``service``, ``taxonomy_term``, ...)."""
    loaded: dict[str, Any] = json.loads((SCHEMA_DIR / f"{name}.json").read_text("utf-8"))
    return loaded


def schema_names() -> list[str]:
    """Every object schema (not the OpenAPI document, not the compiled service)."""
    skip = {"openapi", "service_with_definitions"}
    return sorted(p.stem for p in SCHEMA_DIR.glob("*.json") if p.stem not in skip)


@cache
def _registry() -> Registry[Any]:
    resources = [
        (f"{name}.json", Resource.from_contents(schema(name), DRAFT202012))
        for name in [*schema_names(), "service_with_definitions"]
    ]
    return Registry().with_resources(resources)


@cache
def validator(name: str) -> Draft202012Validator:
    """A validator of one HSDS object (``service_with_definitions`` for the compiled one)."""
    return Draft202012Validator(schema(name), registry=_registry(), format_checker=FormatChecker())


@cache
def extension_validator() -> Draft202012Validator:
    loaded = json.loads(EXTENSION_SCHEMA.read_text("utf-8"))
    return Draft202012Validator(loaded, format_checker=FormatChecker())


def extension_properties() -> dict[str, Any]:
    """Integra's extension fields of a service, as its schema declares them."""
    props: dict[str, Any] = extension_validator().schema["properties"]
    return props


def json_path(parts: Iterable[str | int], prefix: str = "") -> str:
    """``["services", 1, "status"]`` as ``services[1].status`` (after ``prefix``)."""
    path = prefix
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def _message(error: ValidationError) -> str:
    if error.validator == "required":
        return "required field missing"
    if error.validator == "enum":
        allowed = ", ".join(json.dumps(v) for v in error.validator_value)
        return f"{json.dumps(error.instance)[:80]} is not one of {allowed}"
    if error.validator == "type":
        return f"{json.dumps(error.instance)[:80]} is not of type {error.validator_value}"
    if error.validator == "format":
        return f"{json.dumps(error.instance)[:80]} is not a valid {error.validator_value}"
    return error.message[:200]


def _problems(errors: Iterable[ValidationError], prefix: str) -> list[Problem]:
    found = []
    for error in errors:
        parts: list[str | int] = list(error.absolute_path)
        if error.validator == "required":
            missing = next(
                (name for name in error.validator_value if name not in (error.instance or {})),
                None,
            )
            if missing:
                parts.append(missing)
        found.append(Problem(json_path(parts, prefix), _message(error)))
    return found


def check(name: str, document: Any, prefix: str = "") -> list[Problem]:
    """Every problem of ``document`` as an HSDS ``name``; paths start with ``prefix``."""
    return sorted(_problems(validator(name).iter_errors(document), prefix), key=str)


def check_extension(service: Any, prefix: str = "") -> list[Problem]:
    """Problems of a service's Integra extension fields (``integra_*``)."""
    return sorted(_problems(extension_validator().iter_errors(service), prefix), key=str)


def first(problems: Sequence[Problem]) -> list[Problem]:
    return list(problems[:MAX_PROBLEMS])
