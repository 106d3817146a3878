"""Signing, verification, rotation and payload encryption (no services needed)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from messaging.contracts import ContractError
from messaging.signing import (
    BusKeyring,
    EnvelopeSigner,
    EnvelopeVerifier,
    ensure_tenant_keys,
    keyring_path,
    retire_signing_key,
    rotate_signing_key,
)
from tenants.settings import Settings

from .factories import referral_received, referral_requested


@pytest.fixture
def keyed(embedded_settings: Settings) -> Settings:
    ensure_tenant_keys(embedded_settings, "essen")
    return embedded_settings


def verifier(settings: Settings, recipient: str = "jobcenter") -> EnvelopeVerifier:
    return EnvelopeVerifier(settings, "essen", recipient, reload_after=0)


def test_key_ring_is_private_and_idempotent(keyed: Settings) -> None:
    path = keyring_path(keyed, "essen")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    ensure_tenant_keys(keyed, "essen")
    assert path.read_bytes() == before
    kid = BusKeyring.load(keyed, "essen").signing_key.kid
    assert kid is not None and kid.startswith("essen.sig.")


def test_signed_envelope_verifies_and_round_trips(keyed: Settings) -> None:
    envelope = referral_requested("essen")
    body = EnvelopeSigner(BusKeyring.load(keyed, "essen")).sign(envelope)
    assert verifier(keyed).verify(body) == envelope


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda b: b[:-4] + (b"AAAA" if b[-4:] != b"AAAA" else b"BBBB"), "invalid_signature"),
        (lambda b: b"garbage", "malformed"),
    ],
)
def test_tampered_body_is_refused(keyed: Settings, mutate: object, code: str) -> None:
    body = EnvelopeSigner(BusKeyring.load(keyed, "essen")).sign(referral_requested("essen"))
    with pytest.raises(ContractError) as exc:
        verifier(keyed).verify(mutate(body))  # type: ignore[operator]
    assert exc.value.code == code


def test_wrong_recipient_and_other_tenant_are_refused(keyed: Settings) -> None:
    signer = EnvelopeSigner(BusKeyring.load(keyed, "essen"))
    with pytest.raises(ContractError) as exc:
        verifier(keyed, "arbeitsagentur").verify(signer.sign(referral_requested("essen")))
    assert exc.value.code == "wrong_recipient"
    ensure_tenant_keys(keyed, "hamm")
    foreign = EnvelopeSigner(BusKeyring.load(keyed, "hamm")).sign(referral_requested("hamm"))
    with pytest.raises(ContractError) as exc:
        verifier(keyed).verify(foreign)
    assert exc.value.code == "unknown_key"
    with pytest.raises(ContractError) as exc:
        signer.sign(referral_requested("hamm"))
    assert exc.value.code == "wrong_tenant"


def test_rotation_keeps_old_key_accepted_until_retired(keyed: Settings) -> None:
    old_signer = EnvelopeSigner(BusKeyring.load(keyed, "essen"))
    old_kid = old_signer.keys.signing_key.kid
    in_flight = old_signer.sign(referral_requested("essen"))
    v = verifier(keyed)
    new_kid = rotate_signing_key(keyed, "essen")
    new_signer = EnvelopeSigner(BusKeyring.load(keyed, "essen"))
    assert new_signer.keys.signing_key.kid == new_kid != old_kid
    assert v.verify(new_signer.sign(referral_requested("essen")))  # reloads for the new kid
    assert v.verify(in_flight)
    with pytest.raises(ValueError, match="active"):
        retire_signing_key(keyed, "essen", new_kid)
    assert old_kid is not None
    retire_signing_key(keyed, "essen", old_kid)
    with pytest.raises(ContractError) as exc:
        verifier(keyed).verify(in_flight)
    assert exc.value.code == "unknown_key"
    ring = json.loads(keyring_path(keyed, "essen").read_text())
    retired = [k for k in ring["signing"] if k["status"] == "retired"]
    assert retired and "d" not in retired[0]["jwk"]  # the private part is gone


def test_encrypted_payload_is_opaque_on_the_wire(keyed: Settings) -> None:
    envelope = referral_requested("essen")
    body = EnvelopeSigner(BusKeyring.load(keyed, "essen")).sign(envelope, encrypt=True)
    assert b"Haddad" not in body
    import base64

    middle = body.split(b".")[1]
    wire = json.loads(base64.urlsafe_b64decode(middle + b"=" * (-len(middle) % 4)))
    assert "Haddad" not in json.dumps(wire)
    assert set(wire["payload"]) == {"jwe"}
    assert verifier(keyed).verify(body) == envelope


def test_reply_goes_back_in_the_same_conversation(tmp_path: Path) -> None:
    request = referral_requested("essen")
    answer = request.reply("referral.received", 1, referral_received("essen").payload)
    assert (answer.sender, answer.recipient) == ("jobcenter", "agreements")
    assert answer.correlation_id == request.correlation_id
    assert answer.causation_id == request.id
    assert answer.routing_key == "essen.agreements.referral.received"
