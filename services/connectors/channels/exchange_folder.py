"""The exchange folder: XML file exchange with agency case software that imports files.

Layout under ``base_dir``::

    outgoing/    Integra writes, the agency imports (and removes) them
    incoming/    the agency drops its answers
    processed/   incoming files whose effect the caller committed
    rejected/    incoming files refused, each beside a ``<name>.error.txt`` report

Writers on both sides must make a file appear whole: Integra writes ``.<name>.<random>.tmp``,
fsyncs it and renames it into place (``os.replace`` is atomic on one file system). Files named
``*.tmp`` / ``*.part`` or starting with ``.`` are never read. A file that is not yet well-formed
XML and was modified within ``settle_seconds`` is taken as still being written and left for the
next poll; once older, it is rejected.

Delivery is at least once: :meth:`XmlFolderChannel.poll` returns a file again until it is
acknowledged, so the caller deduplicates by message id (the envelope id) and acknowledges only
after committing the effect. :class:`~.xml_file.XmlFileChannel` is the connector's channel on
top of such a folder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from messaging.envelope import Envelope
from tenants.secrets import private_dir

from .xoev import (
    MAX_DOCUMENT_BYTES,
    Authority,
    XmlChannelError,
    XoevMessage,
    envelope_to_xml,
    read_document,
)

__all__ = ["IGNORED_SUFFIXES", "Expected", "XmlFolderChannel"]

log = logging.getLogger(__name__)

IGNORED_SUFFIXES = (".tmp", ".part")


@dataclass(frozen=True)
class Expected:
    """Who an exchange folder's incoming documents are from and for."""

    tenant: str
    sender: str  # the agency's party (its kind)
    recipient: str  # Integra's party the agency answers

    def check(
        self, message: XoevMessage, reader: Authority | None, author: Authority | None
    ) -> None:
        """Refuse a document whose header or envelope names anyone else."""
        envelope = message.envelope
        problem: tuple[str, str] | None = None
        if envelope.tenant != self.tenant:
            problem = (
                "wrong_tenant",
                f"mandant {envelope.tenant!r}, this folder is {self.tenant!r}'s",
            )
        elif envelope.sender != self.sender:
            problem = (
                "wrong_agency",
                f"absender {envelope.sender!r}, this folder is the {self.sender}'s",
            )
        elif envelope.recipient != self.recipient:
            problem = ("wrong_recipient", f"empfaenger {envelope.recipient!r}")
        elif author is not None and _kennung(message.author) != _kennung(author):
            problem = (
                "wrong_agency",
                f"autor {_kennung(message.author)}, expected {_kennung(author)}",
            )
        elif reader is not None and _kennung(message.reader) != _kennung(reader):
            problem = (
                "wrong_recipient",
                f"leser {_kennung(message.reader)}, expected {_kennung(reader)}",
            )
        if problem is not None:
            raise XmlChannelError(
                problem[0], problem[1], message_id=envelope.id, message_type=envelope.type
            )


def _kennung(authority: Authority) -> str:
    return f"{authority.praefix}:{authority.kennung}"


@dataclass(frozen=True)
class _Candidate:
    path: Path
    mtime_ns: int


class XmlFolderChannel:
    """One exchange folder shared with one agency.

    ``own_authority`` / ``partner_authority`` fill the header (``autor`` / ``leser``) of
    delivered documents unless :meth:`deliver` is given others. ``on_reject`` is called after
    :meth:`poll` set a refused file aside (for example to send a return-to-sender).
    """

    def __init__(
        self,
        base_dir: str | os.PathLike[str],
        *,
        own_authority: Authority | None = None,
        partner_authority: Authority | None = None,
        settle_seconds: float = 2.0,
        max_bytes: int = MAX_DOCUMENT_BYTES,
        on_reject: Callable[[Path, XmlChannelError], None] | None = None,
        expected: Expected | None = None,
    ) -> None:
        """``expected``: who incoming documents must be from and for (their header's
        authorities, their envelope's tenant and parties); a document that says otherwise is
        refused, so an agency's folder cannot speak for another agency or tenant."""
        self.base_dir = Path(base_dir)
        self.outgoing = self.base_dir / "outgoing"
        self.incoming = self.base_dir / "incoming"
        self.processed = self.base_dir / "processed"
        self.rejected = self.base_dir / "rejected"
        self.own_authority = own_authority
        self.partner_authority = partner_authority
        self.settle_seconds = settle_seconds
        self.max_bytes = max_bytes
        self.on_reject = on_reject
        self.expected = expected
        for folder in (self.outgoing, self.incoming, self.processed, self.rejected):
            private_dir(folder)

    # --- outgoing --------------------------------------------------------------------------

    @staticmethod
    def file_name(envelope: Envelope) -> str:
        """``<type>_<message id>.xml``: one name per message, so re-delivery is idempotent."""
        return f"{envelope.type}_{envelope.id}.xml"

    def deliver(
        self,
        envelope: Envelope,
        *,
        sender_authority: Authority | None = None,
        recipient_authority: Authority | None = None,
    ) -> Path:
        """Write the envelope's document to ``outgoing/`` atomically; returns its path.

        Idempotent: if a file for this message id is already there, nothing is written (the
        document is a function of the envelope and the authorities, so it would be the same).
        Raises :class:`XmlChannelError` for an envelope that cannot be written.
        """
        autor = sender_authority or self.own_authority
        leser = recipient_authority or self.partner_authority
        if autor is None or leser is None:
            raise ValueError("sender and recipient authority are needed for the header")
        target = self.outgoing / self.file_name(envelope)
        if target.exists():
            return target
        data = envelope_to_xml(envelope, sender_authority=autor, recipient_authority=leser)
        _atomic_write(target, data)
        return target

    # --- incoming --------------------------------------------------------------------------

    def _candidates(self) -> list[_Candidate]:
        found = []
        with os.scandir(self.incoming) as entries:
            for entry in entries:
                name = entry.name
                if name.startswith(".") or name.endswith(IGNORED_SUFFIXES):
                    continue
                if not name.endswith(".xml"):
                    continue
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    mtime_ns = entry.stat(follow_symlinks=False).st_mtime_ns
                except FileNotFoundError:  # taken away meanwhile
                    continue
                found.append(_Candidate(Path(entry.path), mtime_ns))
        found.sort(key=lambda c: (c.mtime_ns, c.path.name))
        return found

    def poll(self) -> list[tuple[Path, Envelope]]:
        """Read ``incoming/`` in order (modification time, then name).

        Returns the valid documents as ``(path, envelope)``; call :meth:`acknowledge` for each
        once its effect is committed. Refused documents are moved to ``rejected/`` with a
        report; a file still being written (not well-formed and younger than
        ``settle_seconds``) is left for the next poll.
        """
        result: list[tuple[Path, Envelope]] = []
        now_ns = time.time_ns()
        for cand in self._candidates():
            try:
                data = _read_limited(cand.path, self.max_bytes)
            except FileNotFoundError:
                continue
            except XmlChannelError as exc:
                self._refused(cand.path, exc)
                continue
            try:
                message = read_document(data)
                if self.expected is not None:
                    self.expected.check(message, self.own_authority, self.partner_authority)
            except XmlChannelError as exc:
                young = now_ns - cand.mtime_ns < self.settle_seconds * 1e9
                if exc.syntax_error and young:
                    continue  # probably still being written; look again next time
                self._refused(cand.path, exc)
                continue
            result.append((cand.path, message.envelope))
        return result

    def _refused(self, path: Path, error: XmlChannelError) -> None:
        target = self.reject(path, error)
        log.warning("exchange file %s rejected: %s", path.name, error)
        if self.on_reject is not None:
            self.on_reject(target, error)

    def acknowledge(self, path: str | os.PathLike[str]) -> Path:
        """Move a polled file to ``processed/``; call only after its effect is committed."""
        source = Path(path)
        target = _free_name(self.processed, source.name)
        os.replace(source, target)
        _fsync_dir(self.processed)
        _fsync_dir(source.parent)
        return target

    def reject(self, path: str | os.PathLike[str], error: BaseException | str) -> Path:
        """Move a file to ``rejected/`` beside a ``<name>.error.txt`` report; returns its path.

        The report is written (atomically) before the file moves, so a crash in between leaves
        the file in ``incoming/`` to be rejected again, never a file without its report.
        """
        source = Path(path)
        target = _free_name(self.rejected, _safe_name(source.name))
        _atomic_write(target.with_name(target.name + ".error.txt"), _report(source, error))
        os.replace(source, target)
        _fsync_dir(self.rejected)
        _fsync_dir(source.parent)
        return target

    def outgoing_files(self) -> Iterator[Path]:
        """The complete documents waiting in ``outgoing/`` (what the agency would see)."""
        for p in sorted(self.outgoing.iterdir()):
            if p.suffix == ".xml" and not p.name.startswith("."):
                yield p


# --- helpers ---------------------------------------------------------------------------------


def _atomic_write(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # case data: owner only
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _read_limited(path: Path, max_bytes: int) -> bytes:
    with path.open("rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise XmlChannelError("oversized", f"more than {max_bytes} bytes")
    return data


_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


def _safe_name(name: str) -> str:
    """The agency chose the file name: in ``rejected/`` it keeps it only if it is plain
    (letters, digits, ``._-``), and never one ending like a report; otherwise a name of ours."""
    if _SAFE_NAME.match(name) and not name.endswith(".error.txt"):
        return name
    return f"refused-{secrets.token_hex(8)}.xml"


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name.1``, ``name.2``… if taken: nothing there is overwritten."""
    target = folder / name
    n = 0
    while target.exists() or target.with_name(target.name + ".error.txt").exists():
        n += 1
        target = folder / f"{name}.{n}"
    return target


def _one_line(value: object) -> str:
    """A report field on one line: what the agency wrote (a file name, an element's text)
    cannot start a line of its own and pose as another field."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in str(value))


def _report(source: Path, error: BaseException | str) -> bytes:
    lines = [
        f"file: {_one_line(source.name)}",
        f"rejected_at: {datetime.now(UTC).isoformat()}",
    ]
    if isinstance(error, XmlChannelError):
        lines += [
            f"reason_code: {error.code}",
            f"reason: {_one_line(error.reason)}",
            f"line: {error.line if error.line is not None else '-'}",
            f"element: {_one_line(error.element or '-')}",
            f"message_id: {error.message_id or '-'}",
            f"message_type: {_one_line(error.message_type or '-')}",
        ]
    else:
        lines += ["reason_code: handler_failed", f"reason: {_one_line(error)}"]
    return ("\n".join(lines) + "\n").encode("utf-8")
