"""Every contract version has a golden example that validates and round-trips unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from messaging.contracts import CONTRACTS, ContractError, contract_for, load_envelope

GOLDEN = Path(__file__).parent / "golden"


def golden_files() -> list[Path]:
    return sorted(GOLDEN.glob("*/*.json"))


def read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_every_declared_contract_has_a_golden_example() -> None:
    missing = [f"{t}/{v}.json" for (t, v) in CONTRACTS if not (GOLDEN / t / f"{v}.json").exists()]
    assert missing == []


def test_every_golden_example_belongs_to_a_declared_contract() -> None:
    stray = [
        str(p.relative_to(GOLDEN))
        for p in golden_files()
        if (p.parent.name, int(p.stem)) not in CONTRACTS
    ]
    assert stray == []


@pytest.mark.parametrize("path", golden_files(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden_example_validates_and_round_trips(path: Path) -> None:
    data = read(path)
    assert (data["type"], data["version"]) == (path.parent.name, int(path.stem))
    envelope = load_envelope(data)
    assert envelope.to_dict() == data
    schema = contract_for(envelope.type, envelope.version)
    assert schema.dump(schema.load(data["payload"])) == data["payload"]


@pytest.mark.parametrize("path", golden_files(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden_example_with_an_unknown_field_is_refused(path: Path) -> None:
    data = read(path)
    data["payload"]["unexpected"] = "x"
    with pytest.raises(ContractError) as exc:
        load_envelope(data)
    assert exc.value.code == "schema_invalid"


def test_personal_data_without_consent_is_refused() -> None:
    data = read(GOLDEN / "referral.requested" / "1.json")
    data["consent_id"] = None
    with pytest.raises(ContractError) as exc:
        load_envelope(data)
    assert exc.value.code == "consent_missing"


def test_unknown_version_is_refused() -> None:
    data = read(GOLDEN / "referral.accepted" / "1.json")
    data["version"] = 99
    with pytest.raises(ContractError) as exc:
        load_envelope(data)
    assert exc.value.code == "unknown_type"
