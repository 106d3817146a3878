"""Signing (JWS) and optional payload encryption (JWE) of envelopes, with per-tenant keys.

Each tenant has its own key ring under ``settings.secrets_dir / <tenant>`` (file mode 0600,
never committed), created by :func:`ensure_tenant_keys` when the tenant is provisioned. Keys
carry a key id (``kid``) naming the tenant; rotation adds a new active key and keeps the old one
*accepted* for verification until it is retired, so messages in flight stay valid.

On the wire a message body is the compact JWS of the envelope's JSON. Receivers verify the
signature, then that the envelope belongs to their tenant and is addressed to them, and only then
validate the contract. Each check failing has its own reason code (see ``REJECTION_CODES``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from messaging.compact_jws import Es256Signer, JwsError, read_header
from messaging.compact_jws import verify as verify_jws
from messaging.contracts import ContractError, load_envelope, validate_envelope
from messaging.envelope import Envelope
from tenants.secrets import read_json, write_secret_json
from tenants.settings import Settings
from tenants.vocabulary import AGENCY_KINDS

SIGNING_ALG = "ES256"
ENCRYPTION_ALG = "ECDH-ES+A256KW"
ENCRYPTION_ENC = "A256GCM"
KEYRING_FILE = "bus-keys.json"
#: Parties that get an encryption key pair by default.
DEFAULT_PARTIES = ("agreements", *AGENCY_KINDS)

ACTIVE, ACCEPTED, RETIRED = "active", "accepted", "retired"


def keyring_path(settings: Settings, tenant_slug: str) -> Path:
    return settings.tenant_secrets_dir(tenant_slug) / KEYRING_FILE


def _now() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _new_key(kid: str, use: str) -> dict[str, Any]:
    key = ECKey.generate_key("P-256", parameters={"kid": kid, "use": use}, private=True)
    return dict(key.as_dict(private=True))


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = read_json(path)
    return data


def ensure_tenant_keys(
    settings: Settings, tenant_slug: str, parties: Iterable[str] = DEFAULT_PARTIES
) -> Path:
    """Create the tenant's key ring if missing (idempotent); add missing party keys.

    Called when a tenant is provisioned. Returns the key ring's path.
    """
    path = keyring_path(settings, tenant_slug)
    data: dict[str, Any] = (
        _read(path) if path.exists() else {"tenant": tenant_slug, "signing": [], "encryption": {}}
    )
    changed = not path.exists()
    if not any(k["status"] == ACTIVE for k in data["signing"]):
        kid = f"{tenant_slug}.sig.{_now()}"
        data["signing"].append({"status": ACTIVE, "jwk": _new_key(kid, "sig")})
        changed = True
    for party in parties:
        if party not in data["encryption"]:
            kid = f"{tenant_slug}.enc.{party}.{_now()}"
            data["encryption"][party] = _new_key(kid, "enc")
            changed = True
    if changed:
        write_secret_json(path, data)
    return path


def rotate_signing_key(settings: Settings, tenant_slug: str) -> str:
    """Add a new active signing key; the previous ones stay accepted. Returns the new kid."""
    path = ensure_tenant_keys(settings, tenant_slug)
    data = _read(path)
    for entry in data["signing"]:
        if entry["status"] == ACTIVE:
            entry["status"] = ACCEPTED
    kid = f"{tenant_slug}.sig.{_now()}"
    data["signing"].append({"status": ACTIVE, "jwk": _new_key(kid, "sig")})
    write_secret_json(path, data)
    return kid


def retire_signing_key(settings: Settings, tenant_slug: str, kid: str) -> None:
    """Stop accepting a rotated-out key (after messages signed with it have drained)."""
    path = keyring_path(settings, tenant_slug)
    data = _read(path)
    for entry in data["signing"]:
        if entry["jwk"]["kid"] == kid:
            if entry["status"] == ACTIVE:
                raise ValueError("the active key cannot be retired; rotate first")
            entry["status"] = RETIRED
            entry["jwk"] = {k: v for k, v in entry["jwk"].items() if k != "d"}
    write_secret_json(path, data)


@dataclass(frozen=True)
class BusKeyring:
    """The loaded bus key ring of one tenant: its signing keys (the active one and those still
    accepted) and each party's encryption key."""

    tenant: str
    signing_key: ECKey
    verification_keys: KeySet
    encryption_keys: Mapping[str, ECKey]

    @classmethod
    def load(cls, settings: Settings, tenant_slug: str) -> BusKeyring:
        path = keyring_path(settings, tenant_slug)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no key ring; provision the tenant first")
        data = _read(path)
        active = [e for e in data["signing"] if e["status"] == ACTIVE]
        if len(active) != 1:
            raise ValueError(f"{path}: expected exactly one active signing key")
        accepted = [
            ECKey.import_key({k: v for k, v in e["jwk"].items() if k != "d"})
            for e in data["signing"]
            if e["status"] in (ACTIVE, ACCEPTED)
        ]
        return cls(
            tenant=tenant_slug,
            signing_key=ECKey.import_key(active[0]["jwk"]),
            verification_keys=KeySet(accepted),  # type: ignore[arg-type]
            encryption_keys={p: ECKey.import_key(k) for p, k in data["encryption"].items()},
        )


class EnvelopeSigner:
    """Turns an envelope into the signed bytes that travel (optionally encrypting the payload)."""

    def __init__(self, keys: BusKeyring) -> None:
        self.keys = keys
        self._jws = Es256Signer(
            keys.signing_key.private_key,  # type: ignore[arg-type]
            {"alg": SIGNING_ALG, "kid": keys.signing_key.kid, "typ": "integra+jws"},
        )

    def sign(self, envelope: Envelope, *, encrypt: bool = False, validate: bool = True) -> bytes:
        """The compact JWS of the envelope. ``validate=False`` only for envelopes that were
        validated before they were stored (the outbox relay)."""
        if validate:
            validate_envelope(envelope)
        return self.sign_data(envelope.to_dict(), encrypt=encrypt)

    def sign_data(self, data: Mapping[str, Any], *, encrypt: bool = False) -> bytes:
        """The compact JWS of an envelope in its JSON form (:meth:`Envelope.to_dict`), as the
        outbox stores it; validated when it was stored, so not again here."""
        if data["tenant"] != self.keys.tenant:
            raise ContractError("wrong_tenant", f"cannot sign for tenant {data['tenant']}")
        if encrypt:
            data = dict(data)
            key = self.keys.encryption_keys.get(data["recipient"])
            if key is None:
                raise KeyError(f"no encryption key for {data['recipient']}")
            header = {"alg": ENCRYPTION_ALG, "enc": ENCRYPTION_ENC, "kid": key.kid}
            plaintext = json.dumps(data.pop("payload"), separators=(",", ":")).encode()
            data["payload"] = {"jwe": jwe.encrypt_compact(header, plaintext, key)}
            data["encrypted"] = True
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        return self._jws.sign(body)


class EnvelopeVerifier:
    """Checks received bytes: signature, tenant, recipient, then the contract.

    Unknown key ids trigger one re-read of the key ring (at most every ``reload_after``
    seconds), so a rotation on another process is picked up without a restart.
    """

    def __init__(
        self,
        settings: Settings,
        tenant_slug: str,
        recipient: str,
        *,
        reload_after: float = 5.0,
    ) -> None:
        self._settings = settings
        self.tenant = tenant_slug
        self.recipient = recipient
        self._reload_after = reload_after
        self._keys = BusKeyring.load(settings, tenant_slug)
        self._loaded_at = time.monotonic()
        self._lock = threading.Lock()

    def _key_for(self, kid: str | None) -> ECKey | None:
        for key in self._keys.verification_keys:
            if key.kid == kid:
                return key  # type: ignore[return-value]
        return None

    def verify(self, body: bytes) -> Envelope:
        try:
            header = read_header(body)
        except JwsError as exc:
            raise ContractError("malformed", exc.detail) from exc
        if header.get("alg") != SIGNING_ALG:
            raise ContractError("malformed", "unexpected JWS header")
        kid = header.get("kid")
        key = self._key_for(kid)
        if key is None:
            with self._lock:
                if time.monotonic() - self._loaded_at > self._reload_after:
                    self._keys = BusKeyring.load(self._settings, self.tenant)
                    self._loaded_at = time.monotonic()
            key = self._key_for(kid)
        if key is None:
            raise ContractError("unknown_key", f"kid {kid!r} is not a key of {self.tenant}")
        try:
            payload = verify_jws(body, key.public_key)
        except JwsError as exc:
            raise ContractError(exc.code, exc.detail) from exc
        try:
            data = json.loads(payload)
        except ValueError as exc:
            raise ContractError("malformed", "payload is not JSON") from exc
        if not isinstance(data, dict):
            raise ContractError("malformed", "envelope is not an object")
        if data.get("tenant") != self.tenant:
            raise ContractError("wrong_tenant", f"tenant {data.get('tenant')!r}")
        if data.get("recipient") != self.recipient:
            raise ContractError("wrong_recipient", f"recipient {data.get('recipient')!r}")
        if data.pop("encrypted", False):
            data["payload"] = self._decrypt(data.get("payload"))
        return load_envelope(data)

    def _decrypt(self, payload: Any) -> Any:
        key = self._keys.encryption_keys.get(self.recipient)
        if key is None or not isinstance(payload, dict) or "jwe" not in payload:
            raise ContractError("malformed", "cannot decrypt payload")
        try:
            plaintext = jwe.decrypt_compact(payload["jwe"], key).plaintext
        except JoseError as exc:
            raise ContractError("invalid_signature", f"payload decryption: {exc.error}") from exc
        return json.loads(plaintext or b"null")
