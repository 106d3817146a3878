"""The exchange folder: atomic delivery, ordered polling, rejection with a report."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from messaging.envelope import Envelope
from services.connectors.channels import exchange_folder
from services.connectors.channels.base import Channel, DeliveryFailed
from services.connectors.channels.exchange_folder import XmlFolderChannel
from services.connectors.channels.xml_file import XmlFileChannel
from services.connectors.channels.xoev import XmlChannelError, envelope_to_xml, xml_to_envelope

from .examples import (
    AGENCY,
    OFFICE,
    measure_started,
    referral_accepted,
    referral_received,
    referral_requested,
)
from .test_xoev import BILLION_LAUGHS


@pytest.fixture
def channel(tmp_path: Path) -> XmlFolderChannel:
    return XmlFolderChannel(tmp_path / "exchange", own_authority=OFFICE, partner_authority=AGENCY)


def agency_drop(
    channel: XmlFolderChannel, name: str, data: bytes, *, age: float = 10.0, at: float | None = None
) -> Path:
    """A file the agency put into incoming/, ``age`` seconds ago (or at time ``at``)."""
    path = channel.incoming / name
    path.write_bytes(data)
    stamp = at if at is not None else time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def answer(envelope: Envelope) -> bytes:
    return envelope_to_xml(envelope, sender_authority=AGENCY, recipient_authority=OFFICE)


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- deliver -----------------------------------------------------------------------------------


def test_layout_is_created(channel: XmlFolderChannel) -> None:
    assert listing(channel.base_dir) == ["incoming", "outgoing", "processed", "rejected"]


def test_deliver_writes_one_valid_document_named_by_message_id(channel: XmlFolderChannel) -> None:
    envelope = referral_requested()
    path = channel.deliver(envelope)

    assert path.parent == channel.outgoing
    assert str(envelope.id) in path.name and path.name.endswith(".xml")
    assert listing(channel.outgoing) == [path.name]
    assert xml_to_envelope(path.read_bytes()) == envelope


def test_redelivery_is_idempotent_and_overwrites_nothing(channel: XmlFolderChannel) -> None:
    envelope = referral_requested()
    first = channel.deliver(envelope)
    inode = first.stat().st_ino
    again = channel.deliver(envelope)

    assert again == first
    assert first.stat().st_ino == inode
    assert listing(channel.outgoing) == [first.name]
    other = channel.deliver(referral_requested())
    assert len(listing(channel.outgoing)) == 2 and other != first


def test_no_partial_file_is_ever_visible_in_outgoing(
    channel: XmlFolderChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen_before_rename: list[list[str]] = []
    real_replace = os.replace

    def watching_replace(src: os.PathLike[str] | str, dst: os.PathLike[str] | str) -> None:
        seen_before_rename.append(listing(channel.outgoing))
        real_replace(src, dst)

    monkeypatch.setattr(exchange_folder.os, "replace", watching_replace)
    path = channel.deliver(referral_requested())

    # Before the rename only the hidden temp file exists; the agency never sees a partial .xml.
    (names,) = seen_before_rename
    assert len(names) == 1
    assert names[0].startswith(".") and names[0].endswith(".tmp")
    assert listing(channel.outgoing) == [path.name]


def test_a_failed_write_leaves_nothing_behind(
    channel: XmlFolderChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(exchange_folder.os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        channel.deliver(referral_requested())
    assert listing(channel.outgoing) == []


def test_an_invalid_envelope_is_not_delivered(channel: XmlFolderChannel) -> None:
    envelope = referral_requested()
    with pytest.raises(XmlChannelError):
        channel.deliver(Envelope(**{**envelope.__dict__, "consent_id": None}))
    assert listing(channel.outgoing) == []


def test_deliver_needs_authorities(tmp_path: Path) -> None:
    bare = XmlFolderChannel(tmp_path)
    with pytest.raises(ValueError):
        bare.deliver(referral_requested())
    path = bare.deliver(referral_requested(), sender_authority=OFFICE, recipient_authority=AGENCY)
    assert path.exists()


# --- poll, acknowledge -------------------------------------------------------------------------


def test_poll_reads_in_order_of_modification_time_then_name(channel: XmlFolderChannel) -> None:
    first, second, third = referral_received(), referral_accepted(), measure_started()
    now = time.time()
    agency_drop(channel, "b.xml", answer(second), at=now - 20)
    agency_drop(channel, "z.xml", answer(first), at=now - 30)
    agency_drop(channel, "a.xml", answer(third), at=now - 20)

    polled = channel.poll()
    assert [p.name for p, _ in polled] == ["z.xml", "a.xml", "b.xml"]
    assert [e for _, e in polled] == [first, third, second]


def test_acknowledge_moves_to_processed(channel: XmlFolderChannel) -> None:
    envelope = referral_received()
    agency_drop(channel, "answer.xml", answer(envelope))

    ((path, got),) = channel.poll()
    assert got == envelope
    # Not acknowledged yet: the next poll offers it again (at least once).
    assert [e for _, e in channel.poll()] == [envelope]

    moved = channel.acknowledge(path)
    assert moved == channel.processed / "answer.xml"
    assert listing(channel.incoming) == []
    assert channel.poll() == []
    assert xml_to_envelope(moved.read_bytes()) == envelope


def test_acknowledging_the_same_name_twice_keeps_both(channel: XmlFolderChannel) -> None:
    for _ in range(2):
        agency_drop(channel, "answer.xml", answer(referral_received()))
        ((path, _),) = channel.poll()
        channel.acknowledge(path)
    assert listing(channel.processed) == ["answer.xml", "answer.xml.1"]


def test_poll_ignores_temp_partial_hidden_and_other_files(channel: XmlFolderChannel) -> None:
    data = answer(referral_received())
    agency_drop(channel, "answer.xml.tmp", data)
    agency_drop(channel, "answer.xml.part", data)
    agency_drop(channel, "answer.tmp", data)
    agency_drop(channel, ".answer.xml", data)
    agency_drop(channel, "readme.txt", b"hello")
    (channel.incoming / "folder.xml").mkdir()

    assert channel.poll() == []
    assert listing(channel.rejected) == []
    assert len(listing(channel.incoming)) == 6


# --- reject ------------------------------------------------------------------------------------


def test_malformed_file_is_rejected_with_a_report_and_the_next_is_processed(
    channel: XmlFolderChannel,
) -> None:
    good = referral_received()
    bad = answer(referral_accepted()).replace(b"<referral_id>", b"<referral_id><oops/>", 1)
    agency_drop(channel, "1-bad.xml", bad, age=30)
    agency_drop(channel, "2-good.xml", answer(good), age=20)

    polled = channel.poll()
    assert [e for _, e in polled] == [good]

    assert listing(channel.rejected) == ["1-bad.xml", "1-bad.xml.error.txt"]
    assert (channel.rejected / "1-bad.xml").read_bytes() == bad  # kept whole
    report = (channel.rejected / "1-bad.xml.error.txt").read_text()
    assert "reason_code: schema_invalid" in report
    assert "line: " in report and "line: -" not in report
    assert "element: /" in report
    assert "message_type: referral.accepted" in report
    assert listing(channel.incoming) == ["2-good.xml"]


def test_broken_xml_is_rejected_once_it_has_settled(channel: XmlFolderChannel) -> None:
    data = answer(referral_received())
    path = agency_drop(channel, "slow.xml", data[:200], age=0)

    # Young and not well-formed: probably still being written, so it is left alone.
    assert channel.poll() == []
    assert listing(channel.incoming) == ["slow.xml"]

    # The agency finishes writing: the file is read normally.
    path.write_bytes(data)
    ((_, envelope),) = channel.poll()
    assert envelope == xml_to_envelope(data)

    # A file that stays broken past the settle time is rejected.
    agency_drop(channel, "broken.xml", data[:200], age=10)
    channel.poll()
    assert "broken.xml" in listing(channel.rejected)
    report = (channel.rejected / "broken.xml.error.txt").read_text()
    assert "reason_code: malformed" in report


def test_a_complete_but_invalid_file_is_rejected_at_once(channel: XmlFolderChannel) -> None:
    data = answer(referral_received()).replace(b"<mandant>", b"<mandant><x/>")
    agency_drop(channel, "invalid.xml", data, age=0)
    assert channel.poll() == []
    assert "invalid.xml" in listing(channel.rejected)


def test_malicious_file_is_rejected(channel: XmlFolderChannel) -> None:
    agency_drop(channel, "lol.xml", BILLION_LAUGHS)
    assert channel.poll() == []
    report = (channel.rejected / "lol.xml.error.txt").read_text()
    assert "reason_code: malformed" in report and "DOCTYPE" in report


def test_oversized_file_is_rejected_unread(tmp_path: Path) -> None:
    channel = XmlFolderChannel(tmp_path, max_bytes=1000)
    agency_drop(channel, "big.xml", b"<a>" + b"x" * 2000 + b"</a>")
    assert channel.poll() == []
    assert "reason_code: oversized" in (channel.rejected / "big.xml.error.txt").read_text()


def test_reject_by_the_caller_keeps_earlier_rejections(channel: XmlFolderChannel) -> None:
    for _ in range(2):
        path = agency_drop(channel, "answer.xml", answer(referral_received()))
        channel.reject(path, RuntimeError("referral unknown"))
    assert listing(channel.rejected) == [
        "answer.xml",
        "answer.xml.1",
        "answer.xml.1.error.txt",
        "answer.xml.error.txt",
    ]
    report = (channel.rejected / "answer.xml.1.error.txt").read_text()
    assert "reason_code: handler_failed" in report and "referral unknown" in report
    assert listing(channel.incoming) == []


# --- the connector's Channel -------------------------------------------------------------------


@pytest.fixture
def file_channel(tmp_path: Path) -> XmlFileChannel:
    return XmlFileChannel(
        tmp_path / "exchange",
        tenant="musterstadt",
        partner_party="jobcenter",
        own_authority=OFFICE,
        partner_authority=AGENCY,
    )


def rejections_sent(channel: XmlFileChannel) -> list[Envelope]:
    return [
        xml_to_envelope(p.read_bytes())
        for p in channel.folder.outgoing_files()
        if p.name.startswith("message.rejected_")
    ]


def test_xml_file_channel_is_a_channel(file_channel: XmlFileChannel) -> None:
    channel: Channel = file_channel
    assert channel.name == "xml_file"
    envelope = referral_requested()
    channel.deliver(envelope, b"jws-not-carried")
    assert [xml_to_envelope(p.read_bytes()) for p in file_channel.folder.outgoing_files()] == [
        envelope
    ]
    channel.close()


def test_xml_file_channel_delivery_failures(
    file_channel: XmlFileChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    envelope = referral_requested()
    with pytest.raises(DeliveryFailed) as info:
        file_channel.deliver(Envelope(**{**envelope.__dict__, "consent_id": None}), b"")
    assert not info.value.retryable

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(exchange_folder.os, "fsync", full_disk)
    with pytest.raises(DeliveryFailed) as info:
        file_channel.deliver(envelope, b"")
    assert info.value.retryable


def test_xml_file_channel_receive_settle_refuse(file_channel: XmlFileChannel) -> None:
    folder = file_channel.folder
    accepted, unknown = referral_accepted(), referral_received()
    now = time.time()
    agency_drop(folder, "1.xml", answer(accepted), at=now - 20)
    agency_drop(folder, "2.xml", answer(unknown), at=now - 10)

    first, second = file_channel.receive()
    assert (first.message_id, first.type, first.version) == (accepted.id, accepted.type, 1)
    assert first.payload == dict(accepted.payload)
    assert first.correlation_id == accepted.correlation_id
    assert first.occurred_at == accepted.occurred_at
    assert file_channel.receive(limit=1)[0].message_id == accepted.id

    file_channel.settle(first)
    file_channel.refuse(second, "wrong_recipient", "no such referral here")

    assert listing(folder.processed) == ["1.xml"]
    assert listing(folder.rejected) == ["2.xml", "2.xml.error.txt"]
    assert listing(folder.incoming) == []
    (notice,) = rejections_sent(file_channel)
    assert notice.recipient == unknown.sender and notice.sender == "agreements"
    assert notice.causation_id == unknown.id
    assert notice.correlation_id == unknown.correlation_id
    assert notice.payload["reason_code"] == "wrong_recipient"
    assert notice.payload["rejected_type"] == "referral.received"


def test_xml_file_channel_returns_invalid_files_to_sender(file_channel: XmlFileChannel) -> None:
    folder = file_channel.folder
    invalid = answer(referral_received()).replace(b"<mandant>", b"<mandant><x/>")
    agency_drop(folder, "invalid.xml", invalid)
    agency_drop(folder, "garbage.xml", b"<not xml")

    assert file_channel.receive() == []
    (notice,) = rejections_sent(file_channel)  # only the one whose message id could be read
    assert notice.recipient == "jobcenter"
    assert notice.payload["reason_code"] == "schema_invalid"
    assert notice.payload["rejected_type"] == "referral.received"
    assert "line" in notice.payload["reason_text"]
    assert len(listing(folder.rejected)) == 4
