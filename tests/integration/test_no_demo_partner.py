"""``integra up --no-demo``: no simulator runs, and each connector delivers to the agency its
registry entry names. A job centre's webhook endpoint (a small HTTP server here) receives the
referral signed by the tenant, checks the signature against the tenant's JWKS, and its signed
answers are recorded in the referral's history. The employment agency on AMQP has nobody
answering for it: its referral waits in the agency's queue."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from joserfc.jwk import ECKey

from services.connectors.agency.protocol import PROBE_HEADER
from services.connectors.agency.webhook_client import (
    NotFromIntegra,
    post_answer,
    probe_answer,
    sign_answer,
    verify_integra_message,
)
from tests.fixtures.live import free_port
from tests.fixtures.up import clean_env, counsellor, integra, refer, renamed_registry
from tests.integration.test_up import integra_up

SLUG = "nodemo"


@dataclass
class JobCentre:
    """The agency's endpoint: verifies Integra's signature before it takes anything."""

    jwks: dict[str, Any] = field(default_factory=dict)
    received: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    refused: int = 0


def _handler(centre: JobCentre) -> type[BaseHTTPRequestHandler]:
    class Endpoint(BaseHTTPRequestHandler):
        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_OPTIONS(self) -> None:
            self._answer(probe_answer(self.headers.get(PROBE_HEADER), centre.jwks, "jobcenter"))

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if not centre.jwks:
                self._answer(503)  # not set up yet: Integra retries
                return
            try:
                envelope = verify_integra_message(body, centre.jwks, kind="jobcenter")
            except NotFromIntegra:
                centre.refused += 1
                self._answer(401)
                return
            centre.received.append((dict(self.headers), envelope))
            self._answer(202)

        def log_message(self, *args: Any) -> None:
            pass

    return Endpoint


@pytest.fixture
def job_centre() -> Iterator[tuple[JobCentre, str]]:
    centre = JobCentre()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(centre))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield centre, f"http://127.0.0.1:{server.server_address[1]}/integra/referrals"
    server.shutdown()
    server.server_close()
    thread.join(5)


def _answer(referral_id: str, message_type: str, **payload: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": message_type,
        "version": 1,
        "correlation_id": referral_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": {"referral_id": referral_id, **payload},
    }


def test_no_demo_delivers_to_the_registry_webhook_partner_and_records_its_answers(
    tmp_path: Path, job_centre: tuple[JobCentre, str]
) -> None:
    centre, url = job_centre
    home = tmp_path / "home"
    registry_dir = renamed_registry(home / "registry", {SLUG: "freiburg"}, "nodemo")
    path = registry_dir / f"{SLUG}.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace('channel = "webhook"\n', f'channel = "webhook"\nwebhook_url = "{url}"\n'),
        encoding="utf-8",
    )
    env = clean_env(home, INTEGRA_TENANTS_DIR=str(registry_dir))
    # The job centre's own key pair; the operator registers only its public half.
    agency_key = ECKey.generate_key("P-256", parameters={"kid": "jc-nodemo-1"}, private=True)
    public = tmp_path / "jobcenter.public.json"
    public.write_text(json.dumps(agency_key.as_dict(private=False)))
    integra(env, "partner", "key", "register", SLUG, "jobcenter", str(public))

    with integra_up(home, free_port(), "up.log", "--no-demo", env=env) as running:
        base = running.base
        assert "(no simulators)" in running.output()
        assert requests.options(f"{base}/sim/{SLUG}/jobcenter", timeout=30).status_code == 404
        page = requests.get(f"{base}/t/{SLUG}/login", timeout=30)
        assert "demo-banner" not in page.text  # neither demo data nor simulated partners

        centre.jwks = json.loads(integra(env, "partner", "jwks", SLUG).stdout)
        check = integra(env, "partner", "check", SLUG, "jobcenter")
        assert "reachable and authenticated" in check.stdout and "jc-nodemo-1" in check.stdout

        api = counsellor(base, env, SLUG, "mbe-caritas")
        referral = refer(api, "jobcenter", "work")
        waiting = refer(api, "arbeitsagentur", "recognition")
        deadline = time.monotonic() + 60
        while not centre.received and time.monotonic() < deadline:
            time.sleep(0.2)
        assert centre.received, running.tail()
        [(headers, envelope)] = centre.received
        assert envelope["type"] == "referral.requested" and envelope["tenant"] == SLUG
        assert envelope["payload"]["referral_id"] == referral["id"]
        assert headers["X-Integra-Message-Id"] == envelope["id"]
        assert centre.refused == 0

        # The connector records the delivery once the agency took it: answer after that, so
        # the history's order is the one this test states.
        api.wait_for(f"referrals/{referral['id']}", lambda b: b["status"] == "sent")
        callback = f"{base}/t/{SLUG}/agency/jobcenter/callback"
        answers = [
            _answer(referral["id"], "referral.received", received_at=datetime.now(UTC)),
            _answer(referral["id"], "referral.accepted", accepted_at=datetime.now(UTC)),
        ]
        for answer in answers:
            response = post_answer(callback, sign_answer(agency_key, answer), timeout=30)
            assert response.status_code == 202, response.text
        # The same answer again changes nothing; one signed by another key is refused.
        again = post_answer(callback, sign_answer(agency_key, answers[0]), timeout=30)
        assert again.status_code == 200
        stranger = ECKey.generate_key("P-256", parameters={"kid": "jc-nodemo-1"}, private=True)
        forged = _answer(referral["id"], "measure.completed", completed_at=datetime.now(UTC))
        assert post_answer(callback, sign_answer(stranger, forged), timeout=30).status_code == 401

        body = api.wait_for(f"referrals/{referral['id']}", lambda b: b["status"] == "accepted")
        history = [(h["status"], h["message_id"]) for h in body["history"]]
        assert [status for status, _ in history] == ["requested", "sent", "received", "accepted"]
        assert [message for _, message in history[2:]] == [a["id"] for a in answers]

        # Nobody plays the employment agency: its referral is handed to its queue and waits.
        body = api.wait_for(f"referrals/{waiting['id']}", lambda b: b["status"] == "sent")
        assert body["status"] == "sent"
        time.sleep(3)
        assert api.call("GET", f"referrals/{waiting['id']}", expect=200)["status"] == "sent"
        queue = integra(env, "partner", "check", SLUG, "arbeitsagentur")
        assert "agency.arbeitsagentur.referrals: 1 waiting" in queue.stdout
