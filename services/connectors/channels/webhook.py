"""The HTTPS webhook channel, outgoing: referrals are POSTed to the agency's endpoint.

:class:`WebhookChannel` POSTs the envelope's compact JWS (signed with the tenant's bus key, see
:mod:`messaging.signing`) as is to the partner's ``webhook_url``::

    POST <webhook_url>
    Content-Type: application/jose
    X-Integra-Message-Id: <envelope id>     the agency's idempotency key
    X-Integra-Tenant: <tenant slug>
    X-Integra-Type: <message type>

    <compact JWS>

2xx means the agency took the message. 5xx, 408, 425, 429, timeouts and connection errors are
retryable; any other 4xx is final (the agency's reason is kept); a 3xx is never followed (the
signed body would go to an address nobody vetted) and is final too: the registry's URL is wrong.
Retries and backoff are the connector's business, as for every channel.

The agency answers through the callback endpoint (:mod:`.webhook_callback`), signed with its
own key (checked by :mod:`.partner_verifier`); the agency's side of that is shipped apart, in
:mod:`services.connectors.agency.webhook_client`.
"""

from __future__ import annotations

import json

import requests

from messaging.envelope import Envelope
from messaging.transports.base import Transport
from tenants.registry import PartnerEntry, Tenant

from .base import AgencyAnswer, DeliveryFailed

JOSE_CONTENT_TYPE = "application/jose"
#: Status codes that mean "not now" although they are 4xx.
RETRYABLE_4XX = frozenset({408, 425, 429})
_REASON_LIMIT = 500
_ERROR_BODY_LIMIT = 64 * 1024
USER_AGENT = "Integra-Connector/1"
#: ``integra partner check``: an OPTIONS request whose header carries a signed probe (a compact
#: JWS of ``{"type": PROBE_TYPE, ...}``, no case data); see :mod:`.probes`.
PROBE_HEADER = "X-Integra-Probe"
PROBE_TYPE = "partner.probe"


def _agency_reason(response: requests.Response, body: bytes) -> str:
    """The agency's own words for a refusal: a JSON reason field, else the start of the body."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("reason_text", "reason", "message", "error_description", "error", "detail"):
            value = data.get(key)
            if isinstance(value, str) and value:
                code = data.get("reason_code") or data.get("code")
                text = f"{code}: {value}" if isinstance(code, str) and code else value
                break
    reason = f"HTTP {response.status_code} {response.reason or ''}".rstrip()
    if text:
        reason += f": {text[:_REASON_LIMIT]}"
    return reason


class WebhookChannel:
    """Pushes signed envelopes to one partner agency's HTTPS endpoint (implements Channel).

    ``timeout`` (seconds) bounds connecting and each wait for response bytes. ``http``: a
    ``requests.Session`` to use (shared pool, test doubles); by default the channel owns one
    and closes it in :meth:`close`. Answers arrive through the callback endpoint
    (:func:`.webhook_callback.make_callback_blueprint`), so :meth:`receive` returns nothing
    and :meth:`settle` / :meth:`refuse` have nothing to do: the callback's HTTP response
    settles or refuses.
    """

    name = "webhook"

    def __init__(
        self,
        partner: PartnerEntry,
        *,
        tenant_slug: str,
        timeout: float = 5.0,
        http: requests.Session | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.partner = partner
        self.tenant_slug = tenant_slug
        self.url = partner.webhook_url
        self.timeout = timeout
        self._owns_http = http is None
        self._http = http if http is not None else requests.Session()

    def deliver(self, envelope: Envelope, signed: bytes) -> None:
        if envelope.tenant != self.tenant_slug:
            raise DeliveryFailed(
                f"envelope of tenant {envelope.tenant!r} on a channel of {self.tenant_slug!r}",
                retryable=False,
            )
        if envelope.recipient != self.partner.kind:
            raise DeliveryFailed(
                f"envelope for {envelope.recipient!r} on the {self.partner.kind} channel",
                retryable=False,
            )
        if self.url is None:
            # Not connected yet: the referral waits (retried with backoff, "delivery delayed"
            # in its history) until the operator names the agency's endpoint and restarts.
            raise DeliveryFailed(
                f"not connected: the registry names no webhook_url for partner "
                f"{self.partner.key} of {self.tenant_slug}"
            )
        headers = {
            "Content-Type": JOSE_CONTENT_TYPE,
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "X-Integra-Message-Id": str(envelope.id),
            "X-Integra-Tenant": envelope.tenant,
            "X-Integra-Type": envelope.type,
        }
        try:
            response = self._http.post(
                self.url,
                data=signed,
                headers=headers,
                timeout=(self.timeout, self.timeout),
                allow_redirects=False,
                stream=True,  # read at most _ERROR_BODY_LIMIT of whatever the agency sends back
            )
        except requests.Timeout as exc:
            raise DeliveryFailed(f"timeout after {self.timeout:g}s: {exc}") from exc
        except requests.ConnectionError as exc:
            raise DeliveryFailed(f"agency unreachable: {exc}") from exc
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as exc:
            raise DeliveryFailed(f"bad webhook_url {self.url!r}: {exc}", retryable=False) from exc
        except requests.RequestException as exc:
            raise DeliveryFailed(f"request failed: {exc}") from exc
        try:
            status = response.status_code
            if 200 <= status < 300:
                return
            try:
                body = response.raw.read(_ERROR_BODY_LIMIT, decode_content=True) or b""
            except Exception:  # the reason is a courtesy; the status code decides
                body = b""
            reason = _agency_reason(response, body)
            if 300 <= status < 400:
                location = response.headers.get("Location", "?")
                raise DeliveryFailed(
                    f"{reason} (redirect to {location} not followed; fix the partner's "
                    "webhook_url)",
                    retryable=False,
                )
            if 400 <= status < 500 and status not in RETRYABLE_4XX:
                raise DeliveryFailed(reason, retryable=False)
            raise DeliveryFailed(reason, retryable=True)
        finally:
            response.close()

    def receive(self, limit: int = 100) -> list[AgencyAnswer]:
        return []  # push channel: answers arrive through the callback endpoint

    def settle(self, answer: AgencyAnswer) -> None:
        """Nothing to do: the callback's 202/200 response told the agency."""

    def refuse(self, answer: AgencyAnswer, reason_code: str, reason_text: str) -> None:
        """Nothing to do: the callback's 422 response told the agency (see IntakeResult)."""

    def close(self) -> None:
        if self._owns_http:
            self._http.close()


def build_webhook_channel(
    transport: Transport, tenant: Tenant, partner: PartnerEntry
) -> WebhookChannel:
    """The channel registered for ``webhook`` partners (see :mod:`.registry`)."""
    return WebhookChannel(partner, tenant_slug=tenant.slug)
