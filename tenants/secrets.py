"""The one writer of secret files (keys, generated passwords, demo credentials), and the
private folders and files of ``var/``.

Every secret Integra generates lives in a file under ``var/secrets/`` (or wherever a caller's
path points), and every such file is written here:

- **0600 from the first byte.** The file is created with ``O_CREAT | O_EXCL`` and mode 0600,
  so no other user can open it even for the instant before its content is written (a
  ``write_text`` followed by ``chmod`` leaves that instant open).
- **Atomic.** Content goes to a temporary file beside the target, is flushed to disk, and then
  replaces the target (``os.replace``) or is linked into place only if the target does not exist
  yet (``os.link``). A reader sees the old content or the new one, never half a file.
- **Folders 0700.** Every folder the writer creates is private to the owner, also where the
  process umask is wider.

Several processes may race to create the same secret (web workers loading a tenant's key at
their first request): :func:`read_or_create` lets exactly one of them win and every process
then uses the winner's content.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) with mode 0700; returns it.

    Folders that exist already keep their mode, except ``path`` itself, which is narrowed to
    0700 if it is wider (a folder of secrets must never be listable by others).
    """
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # another process was first
        os.chmod(folder, DIR_MODE)  # mkdir's mode is filtered by the umask
    if path.stat().st_mode & 0o077:
        os.chmod(path, DIR_MODE)
    return path


def create_private_file(path: Path) -> bool:
    """Create an empty file with mode 0600 (in a 0700 folder) unless it exists, so that a
    database or bus file that SQLite then fills is private from its first byte (SQLite gives
    its -wal and -shm files the database file's mode). Returns True if it created the file."""
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        return False
    return True


def _write_temporary(path: Path, data: bytes) -> Path:
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _as_bytes(content: str | bytes) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def write_secret(path: Path, content: str | bytes) -> None:
    """Write ``content`` to ``path`` atomically with mode 0600, replacing what was there."""
    tmp = _write_temporary(path, _as_bytes(content))
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def create_secret(path: Path, content: str | bytes) -> bool:
    """Write ``content`` to ``path`` only if no file is there yet, atomically, mode 0600.

    Returns False, writing nothing, when the file exists (another writer was first).
    """
    if path.exists():
        return False
    tmp = _write_temporary(path, _as_bytes(content))
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def read_or_create(path: Path, make: Callable[[], str]) -> str:
    """The content of ``path``; if there is none, ``make()`` it first. Concurrent callers
    (threads or processes) all get the content of whichever one created the file."""
    if not path.exists():
        create_secret(path, make())
    return path.read_text(encoding="utf-8")


def write_secret_json(path: Path, data: Any) -> None:
    """:func:`write_secret` of ``data`` as indented JSON."""
    write_secret(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def create_secret_json(path: Path, data: Any) -> bool:
    """:func:`create_secret` of ``data`` as indented JSON."""
    return create_secret(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_json(path: Path, default: Any = None) -> Any:
    """The JSON in ``path``, or ``default`` if there is no such file."""
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return default


def new_password(nbytes: int = 32) -> str:
    """A generated password (URL-safe, so it fits in URLs and DDL without quoting trouble)."""
    return secrets.token_urlsafe(nbytes)
