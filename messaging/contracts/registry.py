"""Every published contract by (type, version), and the schema instance to check one with."""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType

from . import agency_answers, agency_bound, delivery_reports, notices, rejection
from .base import Contract
from .rejection import ContractError


def published(*modules: ModuleType) -> dict[tuple[str, int], type[Contract]]:
    """Every contract the ``modules`` declare (a ``Contract`` with a type and a version), by
    (type, version), in the order declared: declaring a contract in its module publishes it."""
    found: dict[tuple[str, int], type[Contract]] = {}
    for module in modules:
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Contract)
                and value.__module__ == module.__name__
                and hasattr(value, "message_type")
            ):
                key = (value.message_type, value.version)
                if key in found:
                    raise TypeError(f"{key} is declared twice: {found[key]} and {value}")
                found[key] = value
    return found


#: By who sends them: the office, the agency, the agency by law, the connector, any receiver.
CONTRACTS: Mapping[tuple[str, int], type[Contract]] = published(
    agency_bound, agency_answers, notices, delivery_reports, rejection
)
MESSAGE_TYPES: frozenset[str] = frozenset(t for t, _ in CONTRACTS)

_SCHEMAS: dict[tuple[str, int], Contract] = {}


def contract_for(message_type: str, version: int) -> Contract:
    """The (cached) schema instance of a type and version; ContractError if unknown."""
    key = (message_type, version)
    schema = _SCHEMAS.get(key)
    if schema is None:
        cls = CONTRACTS.get(key)
        if cls is None:
            raise ContractError("unknown_type", f"{message_type} v{version}")
        schema = _SCHEMAS[key] = cls()
    return schema
