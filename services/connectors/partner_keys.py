"""Keys partner agencies sign their answers with (webhook callback channel).

Every partner agency of a tenant authenticates its answers with its *own* key pair, never with
the tenant's bus keys: an answer signed by the job centre's key cannot pass for the foreigners'
office, and an agency can never sign a message as Integra.

Files, per tenant and agency kind, under ``settings.secrets_dir``::

    <tenant>/partners/<kind>.public.json    the partner's public JWK (or a JWK Set {"keys": [..]})
    <tenant>/partners/<kind>.private.json   only for simulated partners (demo, tests)

Both are written by the one secret writer (``tenants.secrets``): atomically, mode 0600 from the
first byte, in a 0700 folder.

Two ways a partner key comes to exist:

* **Simulated partner** (``integra up``, tests): :func:`ensure_partner_key` generates an EC P-256
  key pair once and keeps the private half too, because Integra itself plays the agency.
* **Real agency**: the agency generates its key pair in its own system and hands over only the
  public JWK (or a JWK Set, to rotate: old and new key side by side until the old one is no longer
  used). The operator registers it with :func:`register_partner_public_key`; Integra never sees
  the private key. Once a public key is registered, :func:`ensure_partner_key` no longer
  generates anything for that partner.

Signatures use ES256; every key needs a ``kid``, which the agency puts in the JWS header.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from tenants.registry import SLUG
from tenants.secrets import create_secret_json, write_secret_json
from tenants.settings import Settings
from tenants.vocabulary import AGENCY_KINDS

PARTNER_ALG = "ES256"
PARTNER_CURVE = "P-256"
PARTNERS_DIR = "partners"
_KID = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")


class PartnerKeyError(Exception):
    """A partner key is missing, unreadable or not acceptable (wrong type, curve, no kid)."""


@dataclass(frozen=True)
class PartnerKey:
    """The key of one partner agency of one tenant.

    ``private_key`` is ``None`` for a real agency (only its public key is registered).
    ``created`` says whether this call generated the pair.
    """

    tenant: str
    kind: str
    kid: str
    public_key: ECKey
    private_key: ECKey | None
    public_path: Path
    private_path: Path
    created: bool = False

    @property
    def public_jwk(self) -> dict[str, Any]:
        return dict(self.public_key.as_dict(private=False))


def _check_names(tenant_slug: str, kind: str) -> None:
    # Both end up in file paths: refuse anything but a registry slug and a known kind.
    if not SLUG.match(tenant_slug):
        raise ValueError(f"not a tenant slug: {tenant_slug!r}")
    if kind not in AGENCY_KINDS:
        raise ValueError(f"unknown agency kind {kind!r}; expected one of {AGENCY_KINDS}")


def partners_dir(settings: Settings, tenant_slug: str) -> Path:
    return settings.tenant_secrets_dir(tenant_slug) / PARTNERS_DIR


def public_key_path(settings: Settings, tenant_slug: str, kind: str) -> Path:
    _check_names(tenant_slug, kind)
    return partners_dir(settings, tenant_slug) / f"{kind}.public.json"


def private_key_path(settings: Settings, tenant_slug: str, kind: str) -> Path:
    _check_names(tenant_slug, kind)
    return partners_dir(settings, tenant_slug) / f"{kind}.private.json"


def _read_json(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except ValueError as exc:
        raise PartnerKeyError(f"{path}: not JSON: {exc}") from exc


def _import_public(jwk: Any, source: str) -> ECKey:
    if not isinstance(jwk, dict):
        raise PartnerKeyError(f"{source}: a JWK must be a JSON object")
    if jwk.get("kty") != "EC" or jwk.get("crv") != PARTNER_CURVE:
        raise PartnerKeyError(f"{source}: expected an EC {PARTNER_CURVE} key ({PARTNER_ALG})")
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not _KID.match(kid):
        raise PartnerKeyError(f"{source}: the key needs a kid (letters, digits, . _ : -)")
    if jwk.get("use") not in (None, "sig"):
        raise PartnerKeyError(f"{source}: key {kid} is not a signing key (use={jwk['use']!r})")
    try:
        key = ECKey.import_key({k: v for k, v in jwk.items() if k != "d"})
    except (JoseError, ValueError, TypeError) as exc:
        raise PartnerKeyError(f"{source}: not a valid JWK: {exc}") from exc
    return key


def _public_keys_from(data: Any, source: str) -> list[ECKey]:
    if isinstance(data, dict) and "keys" in data:
        items = data["keys"]
        if not isinstance(items, list) or not items:
            raise PartnerKeyError(f"{source}: a JWK Set needs a non-empty 'keys' list")
    else:
        items = [data]
    keys = [_import_public(item, source) for item in items]
    kids = [k.kid for k in keys]
    if len(set(kids)) != len(kids):
        raise PartnerKeyError(f"{source}: duplicate kid in the key set")
    return keys


def _new_kid(tenant_slug: str, kind: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{tenant_slug}.partner.{kind}.{stamp}"


def ensure_partner_key(settings: Settings, tenant_slug: str, kind: str) -> PartnerKey:
    """The partner key of ``kind`` for the tenant, generated once for a simulated partner.

    * a public key is registered and no private key exists (a real agency): returned as is,
      ``private_key`` is None, nothing is generated;
    * nothing exists: an EC P-256 pair is generated, the private JWK written (0600) and the
      public JWK registered; safe against concurrent callers (one pair wins);
    * the private key exists: loaded, and the public file re-derived from it if missing.
    """
    public_path = public_key_path(settings, tenant_slug, kind)
    private_path = private_key_path(settings, tenant_slug, kind)
    created = False
    if not private_path.exists():
        if public_path.exists():  # a real agency's registered key: never generate over it
            public = load_partner_public_key(settings, tenant_slug, kind)
            return PartnerKey(
                tenant_slug, kind, public.kid or "", public, None, public_path, private_path
            )
        kid = _new_kid(tenant_slug, kind)
        key = ECKey.generate_key(
            PARTNER_CURVE, parameters={"kid": kid, "use": "sig", "alg": PARTNER_ALG}, private=True
        )
        created = create_secret_json(private_path, dict(key.as_dict(private=True)))
    private = load_partner_private_key(settings, tenant_slug, kind)
    public = ECKey.import_key(dict(private.as_dict(private=False)))
    if not public_path.exists() or created:
        write_secret_json(public_path, dict(public.as_dict(private=False)))
    return PartnerKey(
        tenant_slug, kind, private.kid or "", public, private, public_path, private_path, created
    )


def register_partner_public_key(
    settings: Settings, tenant_slug: str, kind: str, jwk_json: str | bytes
) -> list[str]:
    """Register a real agency's public key (or JWK Set); returns the registered kids.

    The agency keeps its private key and hands over only the public JWK, for example
    ``{"kty": "EC", "crv": "P-256", "x": "..", "y": "..", "kid": "jc-koeln-2026-01"}``. To
    rotate, register a JWK Set with the old and the new key, then later one with only the new.
    A key with private material (``d``) is refused: it must never leave the agency. Replaces
    what was registered before and removes a simulator's private key for that partner, so the
    partner is from then on authenticated by the agency's key alone. Running callback endpoints
    pick up the change on their next request.
    """
    public_path = public_key_path(settings, tenant_slug, kind)
    source = f"public key for {tenant_slug}/{kind}"
    try:
        data = json.loads(jwk_json)
    except ValueError as exc:
        raise PartnerKeyError(f"{source}: not JSON: {exc}") from exc
    items = data["keys"] if isinstance(data, dict) and "keys" in data else [data]
    if any(isinstance(item, dict) and "d" in item for item in items):
        raise PartnerKeyError(f"{source}: contains a private key; send only the public part")
    keys = _public_keys_from(data, source)
    public = [dict(k.as_dict(private=False)) for k in keys]
    write_secret_json(public_path, public[0] if len(public) == 1 else {"keys": public})
    private_key_path(settings, tenant_slug, kind).unlink(missing_ok=True)
    return [k.kid or "" for k in keys]


def load_partner_public_keys(settings: Settings, tenant_slug: str, kind: str) -> KeySet:
    """All accepted public keys of the partner (one, or several while rotating)."""
    path = public_key_path(settings, tenant_slug, kind)
    if not path.exists():
        raise PartnerKeyError(f"{path}: no key registered for partner {kind} of {tenant_slug}")
    return KeySet(_public_keys_from(_read_json(path), str(path)))  # type: ignore[arg-type]


def load_partner_public_key(
    settings: Settings, tenant_slug: str, kind: str, kid: str | None = None
) -> ECKey:
    """The partner's public key with ``kid`` (any registered key if ``kid`` is None)."""
    path = public_key_path(settings, tenant_slug, kind)
    if not path.exists():
        raise PartnerKeyError(f"{path}: no key registered for partner {kind} of {tenant_slug}")
    keys = _public_keys_from(_read_json(path), str(path))
    if kid is None:
        return keys[-1]
    for key in keys:
        if key.kid == kid:
            return key
    raise PartnerKeyError(f"{path}: no key with kid {kid!r}")


def load_partner_private_key(settings: Settings, tenant_slug: str, kind: str) -> ECKey:
    """The simulated partner's private key (only exists for partners Integra plays itself)."""
    path = private_key_path(settings, tenant_slug, kind)
    if not path.exists():
        raise PartnerKeyError(f"{path}: no private key (a real agency keeps its own)")
    data = _read_json(path)
    try:
        key = ECKey.import_key(data)
    except (JoseError, ValueError, TypeError) as exc:
        raise PartnerKeyError(f"{path}: not a valid private JWK: {exc}") from exc
    if not key.is_private or not key.kid:
        raise PartnerKeyError(f"{path}: expected a private JWK with a kid")
    return key
