"""An agency speaks only for itself (issue 13, item 2).

In the XML channel the document's header and envelope must name the folder's own partner:
tenant (mandant), sender (absender), recipient (empfaenger), author (autor) and reader
(leser); anything else is refused with a report and never taken. Reports cannot be forged
through file names or element texts: a field is always one line, a name that is not plain
(or ends like a report) is replaced by one of ours.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from messaging.envelope import Envelope
from services.connectors.channels.exchange_folder import Expected, XmlFolderChannel
from services.connectors.channels.xoev import Authority, envelope_to_xml

from .examples import AGENCY, OFFICE, TENANT, referral_received
from .test_xml_folder import agency_drop, listing


@pytest.fixture
def channel(tmp_path: Path) -> XmlFolderChannel:
    return XmlFolderChannel(
        tmp_path / "exchange",
        own_authority=OFFICE,
        partner_authority=AGENCY,
        expected=Expected(tenant=TENANT, sender="jobcenter", recipient="agreements"),
    )


def document(
    envelope: Envelope, *, author: Authority = AGENCY, reader: Authority = OFFICE
) -> bytes:
    return envelope_to_xml(envelope, sender_authority=author, recipient_authority=reader)


def report_of(channel: XmlFolderChannel) -> str:
    (report,) = [p for p in channel.rejected.iterdir() if p.name.endswith(".error.txt")]
    return report.read_text()


def test_the_folders_own_partner_is_taken(channel: XmlFolderChannel) -> None:
    agency_drop(channel, "answer.xml", document(referral_received()))
    assert [e.type for _, e in channel.poll()] == ["referral.received"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"tenant": "nachbarstadt"}, "wrong_tenant"),
        ({"sender": "auslaenderbehoerde"}, "wrong_agency"),
        ({"recipient": "arbeitsagentur"}, "wrong_recipient"),
    ],
)
def test_an_envelope_naming_another_tenant_or_party_is_refused(
    channel: XmlFolderChannel, change: dict[str, str], code: str
) -> None:
    forged = dataclasses.replace(referral_received(), **change)
    agency_drop(channel, "answer.xml", document(forged))
    assert channel.poll() == []
    assert listing(channel.incoming) == []
    report = report_of(channel)
    assert f"reason_code: {code}" in report
    assert f"message_id: {forged.id}" in report


@pytest.mark.parametrize(
    ("author", "reader", "code"),
    [
        (Authority("psw", "abh-musterstadt", "Ausländerbehörde"), OFFICE, "wrong_agency"),
        (AGENCY, Authority("psw", "mbe-nachbarstadt", "Andere Beratung"), "wrong_recipient"),
    ],
)
def test_a_header_naming_other_authorities_is_refused(
    channel: XmlFolderChannel, author: Authority, reader: Authority, code: str
) -> None:
    agency_drop(channel, "answer.xml", document(referral_received(), author=author, reader=reader))
    assert channel.poll() == []
    assert f"reason_code: {code}" in report_of(channel)


def test_a_file_name_cannot_forge_the_report(channel: XmlFolderChannel) -> None:
    name = "evil\nreason_code: accepted\nmessage_id: x.xml"
    agency_drop(channel, name, b"<not xml")
    channel.poll()
    report = report_of(channel)
    lines = report.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "file", "rejected_at", "reason_code", "reason", "line", "element", "message_id",
        "message_type",
    ]  # fmt: skip
    assert sum(line.startswith("reason_code:") for line in lines) == 1
    assert "reason_code: malformed" in report or "reason_code: schema_invalid" in report
    (kept,) = [p for p in channel.rejected.iterdir() if not p.name.endswith(".error.txt")]
    assert kept.name.startswith("refused-") and "\n" not in kept.name


def test_a_plain_name_is_kept_and_reports_never_overwrite_each_other(
    channel: XmlFolderChannel,
) -> None:
    agency_drop(channel, "answer.error.txt.xml", b"<broken")
    channel.poll()
    agency_drop(channel, "answer.error.txt.xml", b"<broken again")
    channel.poll()
    names = listing(channel.rejected)
    assert names == [
        "answer.error.txt.xml",
        "answer.error.txt.xml.1",
        "answer.error.txt.xml.1.error.txt",
        "answer.error.txt.xml.error.txt",
    ]
