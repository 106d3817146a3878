"""Who signed a webhook answer: a partner agency's JWS checked against its registered keys.

Every partner agency of a tenant signs its answers with its *own* key (ES256, ``kid`` in the
JWS header; see :mod:`services.connectors.partner_keys`), never with the tenant's bus keys, so
an answer signed by the job centre cannot pass for the foreigners' office.
"""

from __future__ import annotations

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from joserfc.util import json_b64decode

from tenants.settings import Settings

from ..partner_keys import PARTNER_ALG, PartnerKeyError, load_partner_public_keys, public_key_path


class NotAuthenticated(Exception):
    """The body is not a JWS signed by a registered key of the partner (HTTP 401).

    ``reason_code``: ``malformed`` (not a compact JWS, wrong ``alg``), ``unknown_key`` or
    ``invalid_signature``.
    """

    def __init__(self, reason_code: str, reason_text: str) -> None:
        super().__init__(f"{reason_code}: {reason_text}")
        self.reason_code = reason_code
        self.reason_text = reason_text


class PartnerVerifier:
    """Verifies a partner's signed answers against its registered public keys.

    The key file is re-read when it changes (checked by its modification time on each call),
    so registering or rotating a key takes effect without a restart.
    """

    def __init__(self, settings: Settings, tenant_slug: str, kind: str) -> None:
        self.settings = settings
        self.tenant = tenant_slug
        self.kind = kind
        self._path = public_key_path(settings, tenant_slug, kind)
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, ECKey] = {}

    def _current_keys(self) -> dict[str, ECKey]:
        try:
            st = self._path.stat()
        except FileNotFoundError:
            self._stamp, self._keys = None, {}
            return self._keys
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            try:
                keyset = load_partner_public_keys(self.settings, self.tenant, self.kind)
            except PartnerKeyError:
                keys: dict[str, ECKey] = {}
            else:
                keys = {k.kid: k for k in keyset if isinstance(k, ECKey) and k.kid}
            self._stamp, self._keys = stamp, keys
        return self._keys

    def verify(self, body: bytes) -> tuple[str, bytes]:
        """The signing kid and the verified JWS payload; :class:`NotAuthenticated` otherwise."""
        try:
            token = body.decode("ascii").strip()
            header = json_b64decode(token.split(".", 1)[0].encode("ascii"))
        except (UnicodeDecodeError, ValueError, IndexError) as exc:
            raise NotAuthenticated("malformed", "body is not a compact JWS") from exc
        if token.count(".") != 2 or not isinstance(header, dict):
            raise NotAuthenticated("malformed", "body is not a compact JWS")
        if header.get("alg") != PARTNER_ALG:
            raise NotAuthenticated("malformed", f"JWS alg must be {PARTNER_ALG}")
        kid = header.get("kid")
        key = self._current_keys().get(kid) if isinstance(kid, str) else None
        if key is None or not isinstance(kid, str):
            raise NotAuthenticated(
                "unknown_key", f"kid {kid!r} is not a registered key of the {self.kind}"
            )
        try:
            obj = jws.deserialize_compact(token, key, algorithms=[PARTNER_ALG])
        except JoseError as exc:
            raise NotAuthenticated("invalid_signature", "signature does not verify") from exc
        return kid, obj.payload
