"""The portal as an OpenID Connect relying party: authorization code flow with PKCE (S256),
``state`` against login CSRF and ``nonce`` against id_token replay.

Deliberately small and provider-neutral: the tenant's built-in provider and an external one
(e.g. Keycloak, named in the tenant's registry file) are reached the same way, only through
a different :class:`Transport` (in-process WSGI for the built-in provider, HTTPS otherwise).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from werkzeug.test import Client as WsgiClient

ID_TOKEN_ALGORITHMS = ["RS256", "ES256", "PS256"]
CLOCK_LEEWAY_SECONDS = 60


class LoginFailed(Exception):
    """The login could not be completed; ``reason`` is a short machine code for the audit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ProviderConfig:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    client_id: str
    client_secret: str | None = None  # None: a public client (PKCE only)


class Transport(Protocol):
    def post_form(
        self, url: str, data: dict[str, str], auth: tuple[str, str] | None
    ) -> tuple[int, dict[str, Any]]: ...

    def get_json(self, url: str) -> dict[str, Any]: ...


class HttpTransport:
    """HTTPS to an external provider (standard library only; short timeouts)."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout

    @staticmethod
    def _request(url: str, **kwargs: Any) -> urllib.request.Request:
        """Only http(s): a provider's metadata must not point the portal at file: URLs."""
        if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
            raise LoginFailed("provider_url_scheme")
        return urllib.request.Request(url, **kwargs)  # noqa: S310 (scheme checked above)

    def _open(self, request: urllib.request.Request) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            try:
                body = json.loads(error.read() or b"{}")
            except ValueError:
                body = {}
            return error.code, body
        except (OSError, ValueError) as exc:
            raise LoginFailed("provider_unreachable") from exc

    def post_form(
        self, url: str, data: dict[str, str], auth: tuple[str, str] | None
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if auth:
            headers["Authorization"] = _basic(*auth)
        body = urllib.parse.urlencode(data).encode()
        return self._open(self._request(url, data=body, headers=headers, method="POST"))

    def get_json(self, url: str) -> dict[str, Any]:
        status, body = self._open(self._request(url, method="GET"))
        if status != 200:
            raise LoginFailed("provider_error")
        return body


class InProcessTransport:
    """Calls the tenant's own app (the built-in provider) as WSGI, without a socket: the
    same token endpoint an external client would use, but no network hop and no thread of
    the server's pool held while waiting for itself."""

    def __init__(self, app: Any, base_url: str) -> None:
        self.client = WsgiClient(app)
        self.base_url = base_url.rstrip("/")

    def _path(self, url: str) -> str:
        if not url.startswith(self.base_url + "/"):
            raise LoginFailed("provider_url_outside_tenant")
        return url[len(self.base_url) :]

    def post_form(
        self, url: str, data: dict[str, str], auth: tuple[str, str] | None
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": _basic(*auth)} if auth else {}
        response = self.client.post(
            self._path(url), base_url=self.base_url, data=data, headers=headers
        )
        body = response.get_json(silent=True) or {}
        return response.status_code, body

    def get_json(self, url: str) -> dict[str, Any]:
        response = self.client.get(self._path(url), base_url=self.base_url)
        if response.status_code != 200:
            raise LoginFailed("provider_error")
        return response.get_json() or {}


def _basic(user: str, password: str) -> str:
    quoted = f"{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(password, safe='')}"
    return "Basic " + base64.b64encode(quoted.encode()).decode()


def discover(
    issuer: str, client_id: str, transport: Transport, secret: str | None
) -> ProviderConfig:
    """Read the provider's metadata (``/.well-known/openid-configuration``)."""
    meta = transport.get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
    if meta.get("issuer") != issuer.rstrip("/"):
        raise LoginFailed("issuer_mismatch")
    return ProviderConfig(
        issuer=meta["issuer"],
        authorization_endpoint=meta["authorization_endpoint"],
        token_endpoint=meta["token_endpoint"],
        jwks_uri=meta["jwks_uri"],
        client_id=client_id,
        client_secret=secret,
    )


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class LoginTransaction:
    """What the relying party remembers between sending the browser to the provider and
    its return: kept in a signed, short-lived cookie, never in the URL."""

    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    next_url: str

    @classmethod
    def start(cls, redirect_uri: str, next_url: str) -> LoginTransaction:
        return cls(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            code_verifier=secrets.token_urlsafe(48),
            redirect_uri=redirect_uri,
            next_url=next_url,
        )

    def authorization_url(self, provider: ProviderConfig) -> str:
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": provider.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": "openid profile",
                "state": self.state,
                "nonce": self.nonce,
                "code_challenge": _s256(self.code_verifier),
                "code_challenge_method": "S256",
            }
        )
        separator = "&" if "?" in provider.authorization_endpoint else "?"
        return f"{provider.authorization_endpoint}{separator}{query}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> LoginTransaction:
        if not isinstance(data, dict):
            raise LoginFailed("transaction_invalid")
        try:
            return cls(**{k: str(data[k]) for k in cls.__dataclass_fields__})
        except KeyError as exc:
            raise LoginFailed("transaction_invalid") from exc


def finish_login(
    provider: ProviderConfig,
    transaction: LoginTransaction,
    callback_args: dict[str, str],
    transport: Transport,
) -> dict[str, Any]:
    """Check the callback, redeem the code with the PKCE verifier, validate the id_token;
    returns its claims."""
    if callback_args.get("error"):
        raise LoginFailed(f"provider:{callback_args['error'][:40]}")
    state = callback_args.get("state") or ""
    if not secrets.compare_digest(state, transaction.state):
        raise LoginFailed("state_mismatch")
    code = callback_args.get("code")
    if not code:
        raise LoginFailed("code_missing")
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": transaction.redirect_uri,
        "code_verifier": transaction.code_verifier,
    }
    auth = None
    if provider.client_secret:
        auth = (provider.client_id, provider.client_secret)
    else:
        data["client_id"] = provider.client_id
    status, body = transport.post_form(provider.token_endpoint, data, auth)
    if status != 200 or "id_token" not in body:
        raise LoginFailed(f"token:{str(body.get('error', status))[:40]}")
    jwks = transport.get_json(provider.jwks_uri)
    return validate_id_token(provider, body["id_token"], jwks, transaction.nonce)


def validate_id_token(
    provider: ProviderConfig, id_token: str, jwks: dict[str, Any], nonce: str
) -> dict[str, Any]:
    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]  # validated by joserfc
        token = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
        jwt.JWTClaimsRegistry(
            leeway=CLOCK_LEEWAY_SECONDS,
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": provider.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise LoginFailed("id_token_invalid") from exc
    claims: dict[str, Any] = dict(token.claims)
    azp = claims.get("azp")
    if isinstance(claims["aud"], list) and len(claims["aud"]) > 1 and azp != provider.client_id:
        raise LoginFailed("id_token_invalid")
    return claims
