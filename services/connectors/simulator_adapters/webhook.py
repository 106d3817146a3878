"""The simulated agency on the webhook channel: its own web endpoint (where the connector
POSTs) and its answers, signed with its partner key and posted to the connector's callback with
the shipped ``services.connectors.agency.webhook_client``."""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any

from flask import Flask, request
from joserfc.jwk import ECKey

from messaging.signing import BusKeyring
from tenants.registry import PartnerEntry

from ..agency.protocol import PROBE_HEADER
from ..agency.webhook_client import post_answer, probe_answer, sign_answer
from ..partner_keys import PartnerKeyError, ensure_partner_key
from ..simulators import SimulatedAgency
from .base import SimulatedEndpoint, SimulationSite, verify_tenant_message

log = logging.getLogger(__name__)


class WebhookAgencyAdapter:
    """The simulated agency's web endpoint (a WSGI app the gateway mounts at
    /sim/<tenant>/<kind>) and the client that posts its answers to Integra's callback."""

    def __init__(
        self,
        agency: SimulatedAgency,
        keys: BusKeyring,
        partner_key: ECKey | None,
        callback_url: str,
        *,
        partner: PartnerEntry,
        path: str,
        url: str,
    ) -> None:
        """``partner_key``: the simulated agency's private key (its answers are signed with
        it; None if a real agency's public key is registered instead: then it cannot answer);
        ``path`` and ``url``: where the gateway mounts its endpoint and where that is."""
        self.agency = agency
        self.keys = keys
        self.partner_key = partner_key
        self.callback_url = callback_url
        self.stop_event = threading.Event()
        self.app = Flask(f"sim-{agency.kind}")
        self.endpoint = SimulatedEndpoint(path=path, url=url, app=self.app)
        self.partner = dataclasses.replace(partner, webhook_url=url)

        @self.app.route("/", methods=["POST", "OPTIONS"], provide_automatic_options=False)
        def receive() -> Any:
            if request.method == "OPTIONS":  # integra partner check
                jwks = self.keys.verification_keys.as_dict(private=False)
                return "", probe_answer(request.headers.get(PROBE_HEADER), jwks, agency.kind)
            if self.agency.refuses_delivery():
                return {"error": "simulated outage"}, 503
            try:
                envelope = verify_tenant_message(self.keys, request.get_data())
            except Exception as exc:
                return {"error": f"signature not valid: {exc}"}, 401
            self.agency.on_message(envelope)
            return {"status": "received"}, 202

    def _signed(self, answer: dict[str, Any]) -> bytes:
        if self.partner_key is None:
            raise PartnerKeyError(
                f"simulated {self.agency.kind} has no private key: a real agency's key is "
                "registered, so only the agency can sign its answers"
            )
        return sign_answer(self.partner_key, answer)

    def pump(self) -> int:
        sent = 0
        for answer in self.agency.due_answers():
            for attempt in range(5):
                try:
                    response = post_answer(self.callback_url, self._signed(answer), timeout=5.0)
                except Exception as exc:
                    log.warning("simulated %s: callback failed: %s", self.agency.kind, exc)
                    self.stop_event.wait(0.2 * (attempt + 1))
                    continue
                if response.status_code < 500:
                    sent += 1
                    break
                self.stop_event.wait(0.2 * (attempt + 1))
        return sent

    def run(self, interval: float = 0.05) -> None:
        while not self.stop_event.is_set():
            if not self.pump():
                self.stop_event.wait(interval)

    def pump_once(self) -> int:
        """One pass (a job of the shared pool)."""
        return self.pump()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(
            target=self.run, name=f"sim-webhook-{self.agency.kind}", daemon=True
        )
        thread.start()
        return thread

    def stop(self) -> None:
        self.stop_event.set()


def simulate_on_webhook(site: SimulationSite, agency: SimulatedAgency) -> WebhookAgencyAdapter:
    """The adapter registered for ``webhook`` partners: the endpoint is served by the gateway
    at ``/sim/<tenant>/<kind>`` and the connector delivers there instead of the agency's URL."""
    key = ensure_partner_key(site.settings, site.tenant.slug, site.partner.kind)
    path = f"/sim/{site.tenant.slug}/{site.partner.kind}"
    return WebhookAgencyAdapter(
        agency,
        site.keys,
        key.private_key,
        site.callback_url,
        partner=site.partner,
        path=path,
        url=f"{site.base_url}{path}",
    )
