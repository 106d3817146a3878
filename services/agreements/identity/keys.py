"""Per-tenant key material of the agreement service's identity (login, portal), created at
first use under ``settings.tenant_secrets_dir(<tenant>)`` by the one secret writer
(``tenants.secrets``: mode 0600 from the first byte, never committed).

- ``oidc-signing-key.json``: the built-in provider's RSA key (a private JWK) that signs
  id_tokens; its public half is served as the tenant's JWKS.
- ``portal-secret``: 256 random bits from which the portal derives, by HMAC with a purpose
  label, its CSRF tokens, its signed login-transaction cookie and its OIDC client secret.

Not to be confused with the tenant's bus key ring (``messaging.signing.BusKeyring``), which
signs messages.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from joserfc.jwk import RSAKey

from tenants.secrets import read_or_create

from ..context import tenant_context

SIGNING_KEY_FILE = "oidc-signing-key.json"
SECRET_FILE = "portal-secret"  # noqa: S105 (a file name, not a secret)


def _new_signing_key() -> str:
    fresh = RSAKey.generate_key(
        2048, parameters={"kid": secrets.token_hex(8), "use": "sig", "alg": "RS256"}, private=True
    )
    return json.dumps(fresh.as_dict(private=True))


@dataclass(frozen=True)
class IdentityKeys:
    """The identity key material of one tenant; load with :func:`load_identity_keys`."""

    signing_key: RSAKey
    secret: bytes

    def derive(self, purpose: str) -> bytes:
        """A sub-key for one purpose, so a CSRF token can never stand in for a client secret."""
        return hmac.new(self.secret, purpose.encode(), hashlib.sha256).digest()

    def public_jwks(self) -> dict[str, list[dict[str, object]]]:
        return {"keys": [dict(self.signing_key.as_dict(private=False))]}


_EXTENSION = "integra.identity_keys"


def identity_keys() -> IdentityKeys:
    """The current tenant app's keys, loaded (or created) on first use, not at app creation."""
    keys: IdentityKeys | None = current_app.extensions.get(_EXTENSION)
    if keys is None:
        ctx = tenant_context()
        keys = load_identity_keys(ctx.settings.tenant_secrets_dir(ctx.tenant.slug))
        current_app.extensions[_EXTENSION] = keys
    return keys


def load_identity_keys(folder: Path) -> IdentityKeys:
    """The keys in a tenant's secrets ``folder``, created there on first use. Every process
    that races to create them ends up with the same keys (the first writer wins)."""
    key_json = read_or_create(folder / SIGNING_KEY_FILE, _new_signing_key)
    secret_hex = read_or_create(folder / SECRET_FILE, lambda: secrets.token_hex(32)).strip()
    return IdentityKeys(
        signing_key=RSAKey.import_key(json.loads(key_json)), secret=bytes.fromhex(secret_hex)
    )
