"""The HTTPS webhook channel: delivery against a real local HTTP server, the callback endpoint
through Flask's test client, and the partner keys."""

from __future__ import annotations

import contextlib
import json
import socket
import stat
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc.jwk import ECKey

from messaging.contracts import validate_envelope
from messaging.envelope import Envelope
from messaging.signing import BusKeyring, EnvelopeSigner, ensure_tenant_keys
from services.connectors.agency.webhook_client import post_answer, sign_answer
from services.connectors.channels.base import AgencyAnswer, DeliveryFailed, IntakeResult
from services.connectors.channels.webhook import WebhookChannel
from services.connectors.channels.webhook_callback import (
    MAX_CALLBACK_BODY,
    CallbackHandle,
    make_callback_blueprint,
)
from services.connectors.partner_keys import (
    PartnerKeyError,
    ensure_partner_key,
    load_partner_private_key,
    load_partner_public_key,
    register_partner_public_key,
)
from tenants.registry import PartnerEntry
from tenants.settings import Settings
from tests.messaging.factories import referral_requested

TENANT = "koeln"
KIND = "jobcenter"
CALLBACK = f"/agency/{KIND}/callback"


def make_settings(home: Path) -> Settings:
    return Settings(
        home=home,
        database_url=None,
        database_prefix="integra",
        broker_url=None,
        broker_management_url="http://127.0.0.1:15672",
        port=8000,
        host="127.0.0.1",
        tenants_dir=home / "tenants",
        domain=None,
        token_lifetime=3600,
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


# --- a real HTTP server on 127.0.0.1 ---------------------------------------------------------


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Agency:
    """What the local server saw; ``release`` ends a sleeping handler early at teardown."""

    base_url: str
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


def _handler(agency: Agency) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: bytes = b"", **headers: str) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            agency.seen.append(Seen(self.path, dict(self.headers.items()), body))
            if self.path == "/ok":
                self._reply(202, b'{"status": "received"}', Content_Type="application/json")
            elif self.path == "/ok200":
                self._reply(200)
            elif self.path == "/fail500":
                self._reply(500, b"database down")
            elif self.path == "/fail503":
                self._reply(503, b"maintenance")
            elif self.path == "/bad400":
                reason = {"reason_code": "schema_invalid", "reason_text": "Unbekannter Zweck"}
                self._reply(400, json.dumps(reason).encode(), Content_Type="application/json")
            elif self.path == "/limit429":
                self._reply(429, b"slow down")
            elif self.path == "/redirect":
                self._reply(302, Location=f"{agency.base_url}/ok")
            elif self.path == "/slow":
                agency.release.wait(5)
                with contextlib.suppress(OSError):  # the client gave up long ago
                    self._reply(202)
            else:
                self._reply(404, b"no such endpoint")

    return Handler


@pytest.fixture
def agency() -> Iterator[Agency]:
    agency = Agency(base_url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(agency))
    server.daemon_threads = True
    agency.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield agency
    finally:
        agency.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def partner(url: str) -> PartnerEntry:
    return PartnerEntry(
        key="jc-koeln", kind=KIND, name="Jobcenter Köln", channel="webhook", webhook_url=url
    )


@pytest.fixture
def signed_referral(settings: Settings) -> tuple[Any, bytes]:
    ensure_tenant_keys(settings, TENANT)
    envelope = referral_requested(TENANT, recipient=KIND)
    return envelope, EnvelopeSigner(BusKeyring.load(settings, TENANT)).sign(envelope)


@pytest.fixture
def channel_for(agency: Agency) -> Iterator[Any]:
    channels: list[WebhookChannel] = []

    def make(path: str, timeout: float = 5.0) -> WebhookChannel:
        channel = WebhookChannel(
            partner(agency.base_url + path), tenant_slug=TENANT, timeout=timeout
        )
        channels.append(channel)
        return channel

    yield make
    for channel in channels:
        channel.close()


# --- delivery --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/ok", "/ok200"])
def test_2xx_is_delivered_with_the_exact_body_and_headers(
    agency: Agency, channel_for: Any, signed_referral: tuple[Any, bytes], path: str
) -> None:
    envelope, signed = signed_referral
    channel = channel_for(path)

    channel.deliver(envelope, signed)

    assert len(agency.seen) == 1
    seen = agency.seen[0]
    assert seen.path == path
    assert seen.body == signed
    assert seen.headers["Content-Type"] == "application/jose"
    assert seen.headers["X-Integra-Message-Id"] == str(envelope.id)
    assert seen.headers["X-Integra-Tenant"] == TENANT
    assert seen.headers["X-Integra-Type"] == "referral.requested"
    assert channel.name == "webhook"
    assert channel.receive() == []


@pytest.mark.parametrize("path", ["/fail500", "/fail503", "/limit429"])
def test_5xx_and_429_are_retryable(
    agency: Agency, channel_for: Any, signed_referral: tuple[Any, bytes], path: str
) -> None:
    envelope, signed = signed_referral
    with pytest.raises(DeliveryFailed) as failed:
        channel_for(path).deliver(envelope, signed)
    assert failed.value.retryable is True
    assert path[-3:] in failed.value.reason


def test_404_is_final(agency: Agency, channel_for: Any, signed_referral: tuple[Any, bytes]) -> None:
    envelope, signed = signed_referral
    with pytest.raises(DeliveryFailed) as failed:
        channel_for("/nowhere").deliver(envelope, signed)
    assert failed.value.retryable is False
    assert "404" in failed.value.reason
    assert "no such endpoint" in failed.value.reason


def test_400_is_final_with_the_agencys_reason(
    agency: Agency, channel_for: Any, signed_referral: tuple[Any, bytes]
) -> None:
    envelope, signed = signed_referral
    with pytest.raises(DeliveryFailed) as failed:
        channel_for("/bad400").deliver(envelope, signed)
    assert failed.value.retryable is False
    assert "400" in failed.value.reason
    assert "schema_invalid: Unbekannter Zweck" in failed.value.reason


def test_timeout_is_retryable(
    agency: Agency, channel_for: Any, signed_referral: tuple[Any, bytes]
) -> None:
    envelope, signed = signed_referral
    with pytest.raises(DeliveryFailed) as failed:
        channel_for("/slow", timeout=0.3).deliver(envelope, signed)
    assert failed.value.retryable is True
    assert "timeout" in failed.value.reason


def test_connection_refused_is_retryable(signed_referral: tuple[Any, bytes]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # nothing listens on the port any more
    channel = WebhookChannel(partner(f"http://127.0.0.1:{port}/hook"), tenant_slug=TENANT)
    envelope, signed = signed_referral
    try:
        with pytest.raises(DeliveryFailed) as failed:
            channel.deliver(envelope, signed)
    finally:
        channel.close()
    assert failed.value.retryable is True
    assert "unreachable" in failed.value.reason


def test_redirect_is_not_followed(
    agency: Agency, channel_for: Any, signed_referral: tuple[Any, bytes]
) -> None:
    envelope, signed = signed_referral
    with pytest.raises(DeliveryFailed) as failed:
        channel_for("/redirect").deliver(envelope, signed)
    assert [s.path for s in agency.seen] == ["/redirect"]  # /ok was never called
    assert failed.value.retryable is False
    assert "not followed" in failed.value.reason


def test_envelope_of_another_tenant_or_recipient_is_refused(
    agency: Agency, channel_for: Any, signed_referral: tuple[Any, bytes]
) -> None:
    _, signed = signed_referral
    channel = channel_for("/ok")
    for envelope in (
        referral_requested("bonn", recipient=KIND),
        referral_requested(TENANT, recipient="arbeitsagentur"),
    ):
        with pytest.raises(DeliveryFailed) as failed:
            channel.deliver(envelope, signed)
        assert failed.value.retryable is False
    assert agency.seen == []


def test_a_partner_without_webhook_url_is_not_connected_and_its_referrals_wait(
    signed_referral: tuple[Any, bytes],
) -> None:
    envelope, signed = signed_referral
    entry = PartnerEntry(key="jc", kind=KIND, name="Jobcenter", channel="webhook")
    channel = WebhookChannel(entry, tenant_slug=TENANT)
    with pytest.raises(DeliveryFailed) as failed:
        channel.deliver(envelope, signed)
    assert failed.value.retryable is True  # kept and retried once the registry names the URL
    assert "not connected" in failed.value.reason and "webhook_url" in failed.value.reason
    channel.close()


# --- the callback endpoint ------------------------------------------------------------------


class FakeIntake:
    """Stands in for the agreement service: one effect per message id."""

    def __init__(self) -> None:
        self.calls: list[AgencyAnswer] = []
        self.effects: dict[uuid.UUID, AgencyAnswer] = {}
        self.refuse_with: tuple[str, str] | None = None

    def __call__(self, answer: AgencyAnswer) -> IntakeResult:
        self.calls.append(answer)
        if self.refuse_with:
            return IntakeResult.refused(*self.refuse_with)
        if answer.message_id in self.effects:
            return IntakeResult.duplicate()
        self.effects[answer.message_id] = answer
        return IntakeResult.accepted()


@pytest.fixture
def intake() -> FakeIntake:
    return FakeIntake()


@pytest.fixture
def partner_key(settings: Settings) -> ECKey:
    ensure_tenant_keys(settings, TENANT)  # the tenant's own keys must not be confused with it
    return ensure_partner_key(settings, TENANT, KIND).private_key  # type: ignore[return-value]


@pytest.fixture
def client(settings: Settings, intake: FakeIntake, partner_key: ECKey) -> FlaskClient:
    app = Flask(__name__)
    app.register_blueprint(
        make_callback_blueprint(tenant_slug=TENANT, kind=KIND, intake=intake, settings=settings)
    )
    return app.test_client()


def accepted_answer(referral_id: uuid.UUID | None = None, **changes: Any) -> dict[str, Any]:
    referral_id = referral_id or uuid.uuid4()
    answer: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "type": "referral.accepted",
        "version": 1,
        "correlation_id": str(referral_id),
        "occurred_at": "2026-03-02T09:30:00+01:00",
        "payload": {
            "referral_id": str(referral_id),
            "accepted_at": "2026-03-02T09:30:00+01:00",
            "agency_reference": "JC-2026-0815",
        },
    }
    answer.update(changes)
    return answer


def post(client: FlaskClient, body: bytes) -> Any:
    return client.post(CALLBACK, data=body, content_type="application/jose")


def test_valid_answer_reaches_intake_and_gets_202(
    client: FlaskClient, intake: FakeIntake, partner_key: ECKey
) -> None:
    referral_id = uuid.uuid4()
    answer = accepted_answer(referral_id)
    signed = sign_answer(partner_key, answer)

    response = post(client, signed)

    assert response.status_code == 202, response.get_json()
    assert response.get_json() == {"status": "accepted", "message_id": answer["id"]}
    assert len(intake.calls) == 1
    got = intake.calls[0]
    assert got.message_id == uuid.UUID(answer["id"])
    assert got.type == "referral.accepted"
    assert got.version == 1
    assert got.correlation_id == referral_id
    assert got.occurred_at == datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
    assert got.payload == answer["payload"]  # the wire form, as Envelope.payload holds it
    assert isinstance(got.handle, CallbackHandle)
    assert got.handle.kind == KIND
    assert got.handle.kid == partner_key.kid
    assert got.handle.signed == signed


def test_same_answer_twice_has_one_effect(
    client: FlaskClient, intake: FakeIntake, partner_key: ECKey
) -> None:
    signed = sign_answer(partner_key, accepted_answer())

    first = post(client, signed)
    second = post(client, signed)

    assert (first.status_code, second.status_code) == (202, 200)
    assert second.get_json()["status"] == "duplicate"
    assert len(intake.calls) == 2
    assert len(intake.effects) == 1


def test_refused_by_intake_is_422_message_rejected(
    client: FlaskClient, intake: FakeIntake, partner_key: ECKey
) -> None:
    intake.refuse_with = ("wrong_recipient", "referral unknown to this tenant")
    answer = accepted_answer()

    response = post(client, sign_answer(partner_key, answer))

    assert response.status_code == 422
    assert response.get_json() == {
        "rejected_message_id": answer["id"],
        "rejected_type": "referral.accepted",
        "reason_code": "wrong_recipient",
        "reason_text": "referral unknown to this tenant",
    }


def _tamper(signed: bytes) -> bytes:
    header, payload, signature = signed.split(b".")
    data = json.loads(_b64decode(payload))
    data["payload"]["agency_reference"] = "forged"
    return b".".join([header, _b64encode(json.dumps(data).encode()), signature])


def _b64decode(part: bytes) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))


def _b64encode(raw: bytes) -> bytes:
    import base64

    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def test_tampered_body_is_401(client: FlaskClient, intake: FakeIntake, partner_key: ECKey) -> None:
    response = post(client, _tamper(sign_answer(partner_key, accepted_answer())))
    assert response.status_code == 401
    assert response.get_json()["reason_code"] == "invalid_signature"
    assert intake.calls == []


def test_wrong_key_with_the_right_kid_is_401(
    client: FlaskClient, intake: FakeIntake, partner_key: ECKey
) -> None:
    assert partner_key.kid
    impostor = ECKey.generate_key("P-256", parameters={"kid": partner_key.kid}, private=True)
    response = post(client, sign_answer(impostor, accepted_answer()))
    assert response.status_code == 401
    assert response.get_json()["reason_code"] == "invalid_signature"
    assert intake.calls == []


def test_unknown_kid_is_401(
    client: FlaskClient, intake: FakeIntake, settings: Settings, partner_key: ECKey
) -> None:
    stranger = ECKey.generate_key("P-256", parameters={"kid": "someone-else"}, private=True)
    # the key of another agency kind of the same tenant does not count either
    other = ensure_partner_key(settings, TENANT, "arbeitsagentur").private_key
    assert other is not None
    tenant_key = BusKeyring.load(settings, TENANT).signing_key
    for key in (stranger, other, tenant_key):
        response = post(client, sign_answer(key, accepted_answer()))
        assert response.status_code == 401
        assert response.get_json()["reason_code"] == "unknown_key"
    assert intake.calls == []


@pytest.mark.parametrize("body", [b"", b"not a jws", b"a.b.c", "ä.b.c".encode()])
def test_garbage_is_401(client: FlaskClient, intake: FakeIntake, body: bytes) -> None:
    response = post(client, body)
    assert response.status_code == 401
    assert response.get_json()["reason_code"] in ("malformed", "unknown_key")
    assert intake.calls == []


@pytest.mark.parametrize(
    ("changes", "reason_code"),
    [
        ({"payload": {"referral_id": "not-a-uuid", "accepted_at": "2026-03-02T09:30:00Z"}},
         "schema_invalid"),
        ({"payload": {"referral_id": str(uuid.uuid4())}}, "schema_invalid"),
        ({"type": "referral.requested"}, "unknown_type"),
        ({"type": "no.such.type"}, "unknown_type"),
        ({"version": 7}, "unknown_type"),
        ({"id": "nope"}, "malformed"),
        ({"occurred_at": "2026-03-02T09:30:00"}, "malformed"),
        ({"surprise": True}, "malformed"),
        ({"tenant": "bonn"}, "wrong_tenant"),
        ({"correlation_id": str(uuid.uuid4())}, "schema_invalid"),
    ],
)  # fmt: skip
def test_invalid_answer_is_422_and_not_taken(
    client: FlaskClient,
    intake: FakeIntake,
    partner_key: ECKey,
    changes: dict[str, Any],
    reason_code: str,
) -> None:
    response = post(client, sign_answer(partner_key, accepted_answer(**changes)))
    assert response.status_code == 422
    body = response.get_json()
    assert body["reason_code"] == reason_code
    assert body["reason_text"]
    assert intake.calls == []


def test_payload_that_is_not_an_object_is_422(
    client: FlaskClient, intake: FakeIntake, partner_key: ECKey
) -> None:
    from joserfc import jws

    token = jws.serialize_compact(
        {"alg": "ES256", "kid": partner_key.kid}, b"[1, 2]", partner_key, algorithms=["ES256"]
    )
    response = post(client, token.encode())
    assert response.status_code == 422
    assert response.get_json()["reason_code"] == "malformed"
    assert intake.calls == []


def test_personal_data_answer_is_taken_and_becomes_a_valid_envelope(
    client: FlaskClient, intake: FakeIntake, partner_key: ECKey
) -> None:
    """The consent is the connector's business (it knows the referral's), not the agency's."""
    referral_id = uuid.uuid4()
    scheduled = {
        "referral_id": str(referral_id),
        "starts_at": "2026-03-10T10:00:00+01:00",
        "location": "Jobcenter Köln-Mitte, Raum 214",
    }
    without = accepted_answer(referral_id, type="appointment.scheduled", payload=scheduled)
    consent_id = uuid.uuid4()
    echoed = dict(without, id=str(uuid.uuid4()), consent_id=str(consent_id))

    assert post(client, sign_answer(partner_key, without)).status_code == 202
    assert post(client, sign_answer(partner_key, echoed)).status_code == 202

    first, second = intake.calls
    assert first.handle.consent_id is None
    assert second.handle.consent_id == consent_id
    # what the connector does with it: an envelope that passes its contract
    envelope = Envelope(
        id=first.message_id,
        type=first.type,
        version=first.version,
        tenant=TENANT,
        sender=KIND,
        recipient="agreements",
        correlation_id=referral_id,
        occurred_at=first.occurred_at,
        consent_id=consent_id,
        payload=first.payload,
    )
    validate_envelope(envelope)
    json.dumps(envelope.to_dict())


def test_agency_initiated_notice_without_referral(
    client: FlaskClient, intake: FakeIntake, partner_key: ECKey
) -> None:
    answer = {
        "id": uuid.uuid4(),
        "type": "course_obligation.imposed",
        "version": 1,
        "correlation_id": None,
        "occurred_at": datetime.now(UTC),
        "consent_id": uuid.uuid4(),
        "payload": {
            "obligation_id": str(uuid.uuid4()),
            "client": {"given_name": "Amina", "family_name": "Haddad", "birth_date": "1990-04-12"},
            "imposed_by": "jobcenter",
            "imposed_at": "2026-03-01",
            "course": "integration_course",
        },
    }
    response = post(client, sign_answer(partner_key, answer))
    assert response.status_code == 202, response.get_json()
    got = intake.calls[0]
    assert got.correlation_id is None
    assert got.payload["imposed_at"] == "2026-03-01"


def test_correlation_id_defaults_to_the_referral(
    client: FlaskClient, intake: FakeIntake, partner_key: ECKey
) -> None:
    referral_id = uuid.uuid4()
    answer = accepted_answer(referral_id, correlation_id=None)
    response = post(client, sign_answer(partner_key, answer))
    assert response.status_code == 202
    assert intake.calls[0].correlation_id == referral_id


def test_oversized_body_is_413(client: FlaskClient, intake: FakeIntake) -> None:
    response = post(client, b"x" * (MAX_CALLBACK_BODY + 1))
    assert response.status_code == 413
    assert response.get_json()["reason_code"] == "oversized"
    assert intake.calls == []


def test_oversized_signed_answer_is_413(
    client: FlaskClient, intake: FakeIntake, partner_key: ECKey
) -> None:
    big = accepted_answer()
    big["payload"]["note"] = "x" * MAX_CALLBACK_BODY
    response = post(client, sign_answer(partner_key, big))
    assert response.status_code == 413
    assert intake.calls == []


def test_callback_only_takes_post(client: FlaskClient) -> None:
    assert client.get(CALLBACK).status_code == 405


def test_registered_key_takes_effect_without_restart(
    client: FlaskClient, intake: FakeIntake, settings: Settings, partner_key: ECKey
) -> None:
    agency_key = ECKey.generate_key("P-256", parameters={"kid": "jc-koeln-2026"}, private=True)
    register_partner_public_key(
        settings, TENANT, KIND, json.dumps(agency_key.as_dict(private=False))
    )
    assert post(client, sign_answer(agency_key, accepted_answer())).status_code == 202
    # the simulator's key is no longer accepted
    response = post(client, sign_answer(partner_key, accepted_answer()))
    assert response.status_code == 401


def test_post_answer_over_http(settings: Settings, intake: FakeIntake, partner_key: ECKey) -> None:
    """The agency-side client against the endpoint served by a real WSGI server."""
    from werkzeug.serving import make_server

    app = Flask(__name__)
    app.register_blueprint(
        make_callback_blueprint(tenant_slug=TENANT, kind=KIND, intake=intake, settings=settings),
        url_prefix=f"/t/{TENANT}",
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/t/{TENANT}{CALLBACK}"
        signed = sign_answer(partner_key, accepted_answer())
        first = post_answer(url, signed, timeout=5)
        second = post_answer(url, signed, timeout=5)
        first.close()
        second.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert (first.status_code, second.status_code) == (202, 200)
    assert len(intake.effects) == 1


# --- partner keys ---------------------------------------------------------------------------


def test_partner_key_is_created_once_with_private_files(settings: Settings) -> None:
    first = ensure_partner_key(settings, TENANT, KIND)
    second = ensure_partner_key(settings, TENANT, KIND)

    assert first.created is True
    assert second.created is False
    assert first.kid == second.kid
    assert first.private_key is not None
    assert first.private_key.kid == first.kid
    folder = settings.secrets_dir / TENANT / "partners"
    assert first.public_path == folder / f"{KIND}.public.json"
    assert first.private_path == folder / f"{KIND}.private.json"
    for path in (first.public_path, first.private_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(first.public_path.parent.stat().st_mode) == 0o700
    public = json.loads(first.public_path.read_text())
    assert "d" not in public
    assert public["kid"] == first.kid
    assert load_partner_public_key(settings, TENANT, KIND).kid == first.kid
    assert load_partner_private_key(settings, TENANT, KIND).is_private
    assert [p.name for p in first.public_path.parent.iterdir() if p.name.startswith(".")] == []


def test_each_kind_and_tenant_has_its_own_key(settings: Settings) -> None:
    kids = {
        ensure_partner_key(settings, tenant, kind).kid
        for tenant in ("koeln", "bonn")
        for kind in ("jobcenter", "arbeitsagentur", "auslaenderbehoerde")
    }
    assert len(kids) == 6


def test_real_agency_registers_only_its_public_key(settings: Settings) -> None:
    ensure_partner_key(settings, TENANT, KIND)  # a simulator ran before
    agency_key = ECKey.generate_key("P-256", parameters={"kid": "jc-2026-01"}, private=True)

    with pytest.raises(PartnerKeyError, match="private"):
        register_partner_public_key(
            settings, TENANT, KIND, json.dumps(agency_key.as_dict(private=True))
        )
    kids = register_partner_public_key(
        settings, TENANT, KIND, json.dumps(agency_key.as_dict(private=False))
    )

    assert kids == ["jc-2026-01"]
    key = ensure_partner_key(settings, TENANT, KIND)  # generates nothing over a real key
    assert key.kid == "jc-2026-01"
    assert key.private_key is None
    assert key.created is False
    with pytest.raises(PartnerKeyError):
        load_partner_private_key(settings, TENANT, KIND)


def test_rotation_with_a_key_set(settings: Settings) -> None:
    old = ECKey.generate_key("P-256", parameters={"kid": "old"}, private=True)
    new = ECKey.generate_key("P-256", parameters={"kid": "new"}, private=True)
    keyset = {"keys": [old.as_dict(private=False), new.as_dict(private=False)]}
    assert register_partner_public_key(settings, TENANT, KIND, json.dumps(keyset)) == [
        "old",
        "new",
    ]
    assert load_partner_public_key(settings, TENANT, KIND, "old").kid == "old"
    assert load_partner_public_key(settings, TENANT, KIND, "new").kid == "new"


@pytest.mark.parametrize(
    "jwk",
    [
        "not json",
        json.dumps({"kty": "oct", "k": "c2VjcmV0", "kid": "x"}),
        json.dumps({"kty": "EC", "crv": "P-384", "x": "a", "y": "b", "kid": "x"}),
        json.dumps({"keys": []}),
    ],
)
def test_unacceptable_public_keys_are_refused(settings: Settings, jwk: str) -> None:
    with pytest.raises(PartnerKeyError):
        register_partner_public_key(settings, TENANT, KIND, jwk)


def test_public_key_without_kid_is_refused(settings: Settings) -> None:
    key = ECKey.generate_key("P-256", private=False)
    jwk = {k: v for k, v in key.as_dict(private=False).items() if k != "kid"}
    with pytest.raises(PartnerKeyError, match="kid"):
        register_partner_public_key(settings, TENANT, KIND, json.dumps(jwk))


@pytest.mark.parametrize(
    ("tenant", "kind"), [("../etc", KIND), (TENANT, "../../x"), (TENANT, "police")]
)
def test_names_cannot_escape_the_secrets_dir(settings: Settings, tenant: str, kind: str) -> None:
    with pytest.raises(ValueError):
        ensure_partner_key(settings, tenant, kind)
