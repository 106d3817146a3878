"""The backup archive of one tenant: a tar file with a checksum manifest.

Layout::

    manifest.json          what the archive holds, and the SHA-256 of every other member
    manifest.sha256        the SHA-256 of manifest.json
    registry/<slug>.toml   the tenant's registry file
    db/<store>.dump        PostgreSQL: pg_dump custom format of one schema
    db/<store>.sqlite3     embedded: a copy of one SQLite file (sqlite3's backup API)
    secrets/<path>         the tenant's keys and generated passwords (var/secrets/<slug>/)

:func:`open_archive` checks everything before a restore touches anything: a member that is
missing, extra, altered, not a plain file or pointing outside the archive is refused with an
error naming it. The archive carries keys and personal data: it is written 0600, like every
file Integra creates.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

FORMAT = "integra-tenant-backup"
VERSION = 1
MANIFEST = "manifest.json"
MANIFEST_SUM = "manifest.sha256"


class ArchiveError(Exception):
    """The archive is unreadable, incomplete or altered; nothing was restored."""


@dataclass(frozen=True)
class StoreEntry:
    label: str  # agreements, or a connector's service code
    service: str | None
    member: str  # db/<label>.dump or db/<label>.sqlite3
    schema: str | None  # PostgreSQL: the schema's name where the backup was taken


@dataclass(frozen=True)
class Manifest:
    tenant: str
    backend: str  # postgresql | sqlite
    created_at: str
    stores: tuple[StoreEntry, ...]
    files: dict[str, str]  # member -> sha256

    def as_json(self) -> bytes:
        data = {
            "format": FORMAT,
            "version": VERSION,
            "tenant": self.tenant,
            "backend": self.backend,
            "created_at": self.created_at,
            "stores": [vars(s) for s in self.stores],
            "files": self.files,
        }
        return json.dumps(data, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data: dict[str, Any] = json.loads(raw)
            if data.get("format") != FORMAT:
                raise ArchiveError(f"not an Integra tenant backup (format {data.get('format')!r})")
            if data.get("version") != VERSION:
                raise ArchiveError(f"backup format version {data.get('version')} is not known")
            return cls(
                tenant=str(data["tenant"]),
                backend=str(data["backend"]),
                created_at=str(data["created_at"]),
                stores=tuple(StoreEntry(**s) for s in data["stores"]),
                files={str(k): str(v) for k, v in data["files"].items()},
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ArchiveError(f"{MANIFEST} is malformed: {exc}") from exc


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_archive(out: Path, staged: Path, manifest: Manifest) -> None:
    """Write the members staged under ``staged`` (named as in ``manifest.files``) and the
    manifest to ``out``: first to a private temporary file beside it, then renamed, so a
    half-written archive never carries the final name."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    raw = manifest.as_json()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh, tarfile.open(fileobj=fh, mode="w") as tar:
            _add_bytes(tar, MANIFEST, raw)
            _add_bytes(tar, MANIFEST_SUM, hashlib.sha256(raw).hexdigest().encode() + b"\n")
            for member in sorted(manifest.files):
                info = tar.gettarinfo(str(staged / member), arcname=member)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with (staged / member).open("rb") as src:
                    tar.addfile(info, src)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    import io

    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def staged_files(staged: Path) -> dict[str, str]:
    """member name -> sha256 of every file under ``staged``."""
    return {
        path.relative_to(staged).as_posix(): sha256_file(path)
        for path in sorted(staged.rglob("*"))
        if path.is_file()
    }


def _safe_name(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and name == path.as_posix()


def open_archive(archive: Path, into: Path) -> Manifest:
    """Extract ``archive`` into the empty private folder ``into`` and check it against its
    manifest. Raises :class:`ArchiveError` naming what is wrong."""
    try:
        tar = tarfile.open(archive, mode="r:*")  # noqa: SIM115 - closed by the with below
    except (OSError, tarfile.TarError) as exc:
        raise ArchiveError(f"{archive}: not a readable tar archive: {exc}") from exc
    with tar:
        try:
            members = tar.getmembers()
            names = [m.name for m in members]
            for member in members:
                if not member.isfile() or not _safe_name(member.name):
                    raise ArchiveError(f"member {member.name!r} is not a plain file in the archive")
            if len(set(names)) != len(names):
                raise ArchiveError("a member appears twice")
            for required in (MANIFEST, MANIFEST_SUM):
                if required not in names:
                    raise ArchiveError(f"{required} is missing")
            tar.extractall(into, filter="data")
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise ArchiveError(f"{archive}: damaged archive: {exc}") from exc
    raw = (into / MANIFEST).read_bytes()
    if (into / MANIFEST_SUM).read_text().strip() != hashlib.sha256(raw).hexdigest():
        raise ArchiveError(f"{MANIFEST} does not match its checksum: the archive was altered")
    manifest = Manifest.from_json(raw)
    listed = set(manifest.files) | {MANIFEST, MANIFEST_SUM}
    if set(names) != listed:
        extra, missing = sorted(set(names) - listed), sorted(listed - set(names))
        raise ArchiveError(
            f"archive members differ from the manifest: extra {extra}, missing {missing}"
        )
    for name, expected in sorted(manifest.files.items()):
        if sha256_file(into / name) != expected:
            raise ArchiveError(f"{name}: checksum mismatch: the archive is damaged or altered")
    return manifest


def secrets_members(manifest: Manifest) -> Iterator[tuple[str, str]]:
    """(member, path relative to the tenant's secrets folder) of every secret file."""
    for member in sorted(manifest.files):
        if member.startswith("secrets/"):
            yield member, member.removeprefix("secrets/")
