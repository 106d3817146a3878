"""Per-tenant key material of the gateway, created at first use under
``settings.secrets_dir/<tenant>/`` (mode 0600, never committed).

- ``oidc-signing-key.json``: the built-in provider's RSA key (a private JWK) that signs
  id_tokens; its public half is served as the tenant's JWKS.
- ``portal-secret``: 256 random bits from which the portal derives, by HMAC with a purpose
  label, its CSRF tokens, its signed login-transaction cookie and its OIDC client secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from joserfc.jwk import RSAKey

SIGNING_KEY_FILE = "oidc-signing-key.json"
SECRET_FILE = "portal-secret"  # noqa: S105 (a file name, not a secret)

_create_lock = threading.Lock()


def _write_private(path: Path, content: str) -> None:
    """Create ``path`` with mode 0600 and ``content``; an existing file wins (another process
    may have created it first), so every process ends up with the same key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as fh:
        fh.write(content)


def _load_or_create(path: Path, make: str) -> str:
    if not path.exists():
        with _create_lock:
            if not path.exists():
                _write_private(path, make)
    return path.read_text()


@dataclass(frozen=True)
class TenantKeys:
    """The key material of one tenant; load with :func:`load_tenant_keys`."""

    signing_key: RSAKey
    secret: bytes

    def derive(self, purpose: str) -> bytes:
        """A sub-key for one purpose, so a CSRF token can never stand in for a client secret."""
        return hmac.new(self.secret, purpose.encode(), hashlib.sha256).digest()

    def public_jwks(self) -> dict[str, list[dict[str, object]]]:
        return {"keys": [dict(self.signing_key.as_dict(private=False))]}


def load_tenant_keys(secrets_dir: Path, slug: str) -> TenantKeys:
    folder = secrets_dir / slug
    key_path = folder / SIGNING_KEY_FILE
    if key_path.exists():
        key_json = key_path.read_text()
    else:
        kid = secrets.token_hex(8)
        fresh = RSAKey.generate_key(
            2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"}, private=True
        )
        key_json = _load_or_create(key_path, json.dumps(fresh.as_dict(private=True)))
    signing_key = RSAKey.import_key(json.loads(key_json))
    secret_hex = _load_or_create(folder / SECRET_FILE, secrets.token_hex(32)).strip()
    return TenantKeys(signing_key=signing_key, secret=bytes.fromhex(secret_hex))
