"""The XÖV-style XML translation: round trips, the shipped XSD, refusals, hardened parsing."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from messaging.contracts import CONTRACTS, REJECTION_CODES, load_payload
from messaging.envelope import Envelope
from services.connectors.channels.xoev import (
    MAX_DOCUMENT_BYTES,
    Authority,
    XmlChannelError,
    envelope_to_xml,
    read_document,
    return_to_sender,
    xml_schema,
    xml_to_envelope,
)
from services.connectors.channels.xoev.vocabulary import MESSAGES, NAMESPACE, XSD_PATH
from services.connectors.channels.xoev.xsd import build_xsd

from .examples import AGENCY, EXAMPLES, OFFICE, referral_received, referral_requested


def to_xml(envelope: Envelope) -> bytes:
    return envelope_to_xml(envelope, sender_authority=OFFICE, recipient_authority=AGENCY)


def tree(data: bytes) -> etree._Element:
    return etree.fromstring(data)


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def refused(data: bytes) -> XmlChannelError:
    with pytest.raises(XmlChannelError) as info:
        xml_to_envelope(data)
    assert info.value.code in REJECTION_CODES
    return info.value


# --- the schema --------------------------------------------------------------------------------


def test_every_contract_has_a_message_and_an_example() -> None:
    assert set(MESSAGES) == set(CONTRACTS)
    covered = {(f().type, f().version) for f in EXAMPLES.values()}
    assert covered == set(CONTRACTS)


def test_shipped_xsd_is_generated_from_the_contracts() -> None:
    assert XSD_PATH.read_bytes() == build_xsd(), (
        "regenerate: python -m services.connectors.channels.xoev.xsd > " + str(XSD_PATH)
    )


def test_root_names_follow_standard_message_and_number() -> None:
    assert MESSAGES[("referral.requested", 1)].root == "referral.Requested.0101"
    assert MESSAGES[("course_obligation.imposed", 1)].root == "course_obligation.Imposed.0601"
    assert MESSAGES[("message.rejected", 1)].root == "administration.ReturnToSender.0901"
    assert len({m.number for m in MESSAGES.values()}) == len(MESSAGES)


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("make", EXAMPLES.values(), ids=list(EXAMPLES))
def test_round_trip_of_every_message_type(make: Callable[[], Envelope]) -> None:
    original = make()
    data = to_xml(original)

    assert xml_schema().validate(etree.ElementTree(tree(data)))
    message = read_document(data)
    assert message.envelope == original
    assert message.envelope.payload == original.payload
    assert load_payload(message.envelope) == load_payload(original)
    assert message.author == OFFICE
    assert message.reader == AGENCY
    # Deterministic: a re-delivery writes the same bytes.
    assert to_xml(original) == data
    assert to_xml(message.envelope) == data


def test_document_header_has_the_xoev_shape() -> None:
    envelope = referral_requested()
    root = tree(to_xml(envelope))

    assert root.tag == f"{{{NAMESPACE}}}referral.Requested.0101"
    assert root.attrib == {
        "standard": "Integra",
        "version": "1.0",
        "produkt": "Integra",
        "produkthersteller": "Integra-Projekt",
    }
    assert [c.tag for c in root] == ["nachrichtenkopf", "nachrichteninhalt"]
    kopf = root.find("nachrichtenkopf")
    assert kopf is not None
    assert [c.tag for c in kopf] == ["identifikation.nachricht", "leser", "autor"]
    assert kopf.findtext("identifikation.nachricht/nachrichtenUUID") == str(envelope.id)
    typ = kopf.find("identifikation.nachricht/nachrichtentyp")
    assert typ is not None
    assert typ.attrib == {
        "listURI": "urn:integra:xoev:codeliste:nachrichtentyp",
        "listVersionID": "1.0",
    }
    assert (typ.findtext("code"), typ.findtext("name")) == ("0101", "referral.requested")
    assert kopf.findtext("leser/behoerdenkennung/kennung") == AGENCY.kennung
    assert kopf.findtext("autor/behoerdenkennung/praefix") == OFFICE.praefix
    assert kopf.findtext("autor/behoerdenname") == OFFICE.name
    umschlag = root.find("nachrichteninhalt/umschlag")
    assert umschlag is not None
    assert umschlag.findtext("mandant") == envelope.tenant
    assert umschlag.findtext("korrelationsUUID") == str(envelope.correlation_id)
    assert umschlag.findtext("einwilligungsUUID") == str(envelope.consent_id)
    assert umschlag.find("verursachungsUUID") is None


def test_other_time_zones_come_back_as_the_same_instant() -> None:
    envelope = referral_received()
    shifted = Envelope(**{**envelope.__dict__, "occurred_at": envelope.occurred_at.astimezone()})
    assert xml_to_envelope(to_xml(shifted)) == envelope


def test_return_to_sender_is_a_message_rejected() -> None:
    original = referral_requested()
    data = return_to_sender(
        original.id,
        original.type,
        "schema_invalid",
        "x" * 5000,
        tenant=original.tenant,
        sender=original.recipient,
        recipient=original.sender,
        sender_authority=AGENCY,
        recipient_authority=OFFICE,
    )
    assert tree(data).tag == f"{{{NAMESPACE}}}administration.ReturnToSender.0901"
    message = read_document(data)
    back = message.envelope
    assert (back.type, back.version) == ("message.rejected", 1)
    assert back.causation_id == original.id
    assert back.correlation_id == original.id
    assert back.sender == "jobcenter" and back.recipient == "agreements"
    assert message.author == AGENCY
    payload = load_payload(back)
    assert payload["rejected_message_id"] == original.id
    assert payload["rejected_type"] == "referral.requested"
    assert payload["reason_code"] == "schema_invalid"
    assert len(payload["reason_text"]) == 2000


def test_return_to_sender_refuses_an_unknown_reason_code() -> None:
    with pytest.raises(XmlChannelError) as info:
        return_to_sender(
            uuid.uuid4(),
            None,
            "because",
            None,
            tenant="t",
            sender="jobcenter",
            recipient="agreements",
            sender_authority=AGENCY,
            recipient_authority=OFFICE,
        )
    assert info.value.code == "schema_invalid"


# --- what is not written -----------------------------------------------------------------------


def test_an_envelope_breaking_its_contract_is_not_written() -> None:
    envelope = referral_received()
    broken = Envelope(**{**envelope.__dict__, "payload": {"referral_id": "not-a-uuid"}})
    with pytest.raises(XmlChannelError) as info:
        to_xml(broken)
    assert info.value.code == "schema_invalid"


def test_personal_data_without_consent_is_not_written() -> None:
    envelope = referral_requested()
    with pytest.raises(XmlChannelError) as info:
        to_xml(Envelope(**{**envelope.__dict__, "consent_id": None}))
    assert info.value.code == "consent_missing"


def test_an_unknown_type_is_not_written() -> None:
    envelope = referral_received()
    with pytest.raises(XmlChannelError) as info:
        to_xml(Envelope(**{**envelope.__dict__, "version": 9}))
    assert info.value.code == "unknown_type"


def test_text_xml_cannot_carry_is_refused() -> None:
    envelope = referral_received()
    payload = {**envelope.payload, "agency_reference": "JC\x00\x01"}
    with pytest.raises(XmlChannelError) as info:
        to_xml(Envelope(**{**envelope.__dict__, "payload": payload}))
    assert info.value.code == "schema_invalid"


def test_an_authority_the_xsd_refuses_is_not_written() -> None:
    with pytest.raises(XmlChannelError) as info:
        envelope_to_xml(
            referral_received(),
            sender_authority=Authority(praefix="", kennung="k", name="n"),
            recipient_authority=AGENCY,
        )
    assert info.value.code == "schema_invalid"


# --- what is refused on reading ----------------------------------------------------------------


def test_missing_header_field_is_refused_with_line_and_element() -> None:
    root = tree(to_xml(referral_received()))
    ident = root.find("nachrichtenkopf/identifikation.nachricht")
    assert ident is not None
    ident.remove(ident.find("erstellungszeitpunkt"))
    envelope = referral_received()
    error = refused(serialize(root))
    assert error.code == "schema_invalid"
    assert error.line is not None and error.line > 1
    assert error.element is not None and "identifikation.nachricht" in error.element
    assert "erstellungszeitpunkt" in error.reason
    assert error.message_id is not None and error.message_id != envelope.id  # a fresh example
    assert error.message_type == "referral.received"


def test_missing_authority_is_refused() -> None:
    root = tree(to_xml(referral_received()))
    kopf = root.find("nachrichtenkopf")
    assert kopf is not None
    kopf.remove(kopf.find("leser"))
    assert refused(serialize(root)).code == "schema_invalid"


def test_wrong_root_is_refused() -> None:
    data = to_xml(referral_received())
    renamed = data.replace(b"referral.Received.0102", b"referral.Unknown.0999")
    error = refused(renamed)
    assert error.code == "unknown_type"
    assert error.element is not None and "referral.Unknown.0999" in error.element

    foreign = data.replace(NAMESPACE.encode(), b"urn:someone:else")
    assert refused(foreign).code == "unknown_type"


def test_header_type_must_match_the_root() -> None:
    data = to_xml(referral_received())
    swapped = data.replace(b"<code>0102</code>", b"<code>0103</code>").replace(
        b"<name>referral.received</name>", b"<name>referral.accepted</name>"
    )
    error = refused(swapped)
    assert error.code == "schema_invalid"
    assert "nachrichtentyp" in error.reason


def test_wrong_code_list_version_is_refused() -> None:
    data = to_xml(referral_received()).replace(b'listVersionID="1.0"', b'listVersionID="2.0"')
    assert refused(data).code == "schema_invalid"


@pytest.mark.parametrize("where", ["nachrichteninhalt", "nachrichtenkopf", "client/identity"])
def test_unknown_element_is_refused(where: str) -> None:
    root = tree(to_xml(referral_requested()))
    parent = root.find(where if "/" not in where else f"nachrichteninhalt/{where}")
    assert parent is not None
    etree.SubElement(parent, "unbekannt").text = "x"
    error = refused(serialize(root))
    assert error.code == "schema_invalid"
    assert "unbekannt" in error.reason
    assert error.line is not None


def test_wrong_value_type_is_refused() -> None:
    data = to_xml(referral_received())
    root = tree(data)
    received = root.find("nachrichteninhalt/received_at")
    assert received is not None
    received.text = "2026-03-02T09:30:15"  # no offset: not an aware datetime
    assert refused(serialize(root)).code == "schema_invalid"


def test_contract_rules_beyond_the_xsd_are_checked() -> None:
    # Client data must match data_categories exactly: only the contract knows.
    root = tree(to_xml(referral_requested()))
    categories = root.find("nachrichteninhalt/data_categories")
    assert categories is not None
    categories.remove(categories[-1])
    error = refused(serialize(root))
    assert error.code == "schema_invalid"
    assert error.message_type == "referral.requested"


def test_personal_data_without_consent_is_refused() -> None:
    root = tree(to_xml(referral_requested()))
    umschlag = root.find("nachrichteninhalt/umschlag")
    assert umschlag is not None
    umschlag.remove(umschlag.find("einwilligungsUUID"))
    assert refused(serialize(root)).code == "consent_missing"


def test_free_form_values_are_checked() -> None:
    data = to_xml(referral_requested())
    bad = data.replace(
        b'<eintrag schluessel="years" typ="ganzzahl">16</eintrag>',
        b'<eintrag schluessel="years" typ="ganzzahl">sixteen</eintrag>',
    )
    assert bad != data
    error = refused(bad)
    assert error.code == "schema_invalid"
    assert error.element is not None and "education" in error.element


def test_not_well_formed_is_refused_with_line() -> None:
    data = to_xml(referral_received())
    error = refused(data[: len(data) // 2])
    assert error.code == "malformed"
    assert error.syntax_error
    assert error.line is not None and error.line > 1


def test_oversized_is_refused_unparsed() -> None:
    assert refused(b" " * (MAX_DOCUMENT_BYTES + 1)).code == "oversized"


def test_comments_and_processing_instructions_do_not_change_the_message() -> None:
    envelope = referral_received()
    data = to_xml(envelope).replace(
        b"<nachrichtenkopf>", b"<!-- a comment --><?agency hint?><nachrichtenkopf>"
    )
    assert xml_to_envelope(data) == envelope


# --- malicious XML ------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>
"""


def test_billion_laughs_is_refused_without_expansion() -> None:
    started = time.perf_counter()
    error = refused(BILLION_LAUGHS)
    assert time.perf_counter() - started < 1.0
    assert error.code == "malformed"
    assert "DOCTYPE" in error.reason
    assert "lollol" not in str(error)


def test_billion_laughs_inside_a_real_message_is_refused() -> None:
    data = to_xml(referral_received())
    head, _, body = data.partition(b"\n")
    doctype = BILLION_LAUGHS.split(b"\n", 1)[1].rsplit(b"<lolz>", 1)[0]
    evil = head + b"\n" + doctype + body.replace(b"JC-2026-0001", b"&lol9;")
    assert refused(evil).code == "malformed"


def test_external_entity_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    data = to_xml(referral_received())
    head, _, body = data.partition(b"\n")
    evil = (
        head
        + b'\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "'
        + secret.as_uri().encode()
        + b'">]>\n'
        + body.replace(b"JC-2026-0001", b"&xxe;")
    )
    error = refused(evil)
    assert error.code == "malformed"
    assert "TOP-SECRET-VALUE" not in str(error)


def test_parameter_entity_and_external_dtd_are_not_read(tmp_path: Path) -> None:
    dtd = tmp_path / "evil.dtd"
    dtd.write_text('<!ENTITY leaked "TOP-SECRET-VALUE">')
    for evil in (
        b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "' + dtd.as_uri().encode() + b'"><r>&leaked;</r>',
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "'
        + dtd.as_uri().encode()
        + b'"> %p;]><r>&leaked;</r>',
        # /dev/zero as external subset: never opened, so nothing hangs.
        b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "/dev/zero"><r/>',
    ):
        error = refused(evil)
        assert error.code == "malformed"
        assert "TOP-SECRET-VALUE" not in str(error)


def test_utf16_doctype_is_refused_too() -> None:
    evil = '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE r SYSTEM "/dev/zero"><r/>'
    assert refused(evil.encode("utf-16")).code == "malformed"


def test_no_network_access_for_external_dtd() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    connected: list[bool] = []

    def accept() -> None:
        try:
            conn, _ = server.accept()
            connected.append(True)
            conn.close()
        except OSError:
            pass

    thread = threading.Thread(target=accept)
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}/evil.dtd".encode()
        for evil in (
            b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "' + url + b'"><r/>',
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "' + url + b'">]><r>&x;</r>',
        ):
            assert refused(evil).code == "malformed"
        thread.join(timeout=2)
    finally:
        server.close()
        thread.join(timeout=2)
    assert connected == []
