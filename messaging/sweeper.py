"""The outbox sweeper: one per process, finds the outboxes with unsent rows.

The writer's process publishes right after each commit; the sweeper catches what that missed
(a process that died between its commit and the publish, a writer in a process that runs no
relay, a row a relay could not publish). It runs on the shared timer of the work pool, never a
thread or a timer per tenant.

- PostgreSQL: one query per shard over every tenant's outbox (``UNION ALL`` of an ``EXISTS``
  per schema), as the platform's login role, which the bus migration 0003 lets read the
  ``sent_at`` column of each outbox and nothing else.
- SQLite (embedded): a file whose size and modification time did not change since a sweep
  that found it empty is not opened again; the others are asked with a connection opened and
  closed at once (no file held open per tenant).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

Key = Hashable


@dataclass
class _Target:
    key: Key
    engine: Engine
    stamp: tuple[int, ...] | None = None  # SQLite: file state when last found empty


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _file_stamp(path: str) -> tuple[int, ...]:
    stamp: list[int] = []
    for suffix in ("", "-wal"):
        try:
            st = os.stat(path + suffix)
            stamp += [st.st_mtime_ns, st.st_size]
        except FileNotFoundError:
            stamp += [0, 0]
    return tuple(stamp)


class OutboxSweeper:
    """Which registered outboxes hold unsent rows; register each tenant's outbox engine under
    the key of its relay job."""

    def __init__(self) -> None:
        self._targets: dict[Key, _Target] = {}
        self._lock = threading.Lock()

    def add(self, key: Key, engine: Engine) -> None:
        with self._lock:
            self._targets[key] = _Target(key, engine)

    def remove(self, key: Key) -> None:
        with self._lock:
            self._targets.pop(key, None)

    def pending(self) -> list[Key]:
        """Keys whose outbox has unsent rows (a failing shard or file is logged and skipped:
        the next sweep asks again)."""
        with self._lock:
            targets = list(self._targets.values())
        shards: dict[int, tuple[Engine, list[_Target]]] = {}
        found: list[Key] = []
        for target in targets:
            shared = getattr(target.engine, "shared", None)
            if shared is not None:
                shards.setdefault(id(shared), (shared, []))[1].append(target)
            elif target.engine.dialect.name == "sqlite":
                if self._sqlite_pending(target):
                    found.append(target.key)
            elif self._engine_pending(target.engine):
                found.append(target.key)
        for shared, members in shards.values():
            found += self._shard_pending(shared, members)
        return found

    def _shard_pending(self, shared: Engine, members: list[_Target]) -> list[Key]:
        by_schema = {str(getattr(t.engine, "schema")): t.key for t in members}  # noqa: B009
        try:
            with shared.connect() as conn:
                # only schemas whose outbox exists and lets this role see sent_at (provisioned)
                ready = list(
                    conn.execute(
                        text(
                            "SELECT n.nspname FROM pg_class c"
                            " JOIN pg_namespace n ON n.oid = c.relnamespace"
                            " WHERE c.relname = 'outbox_messages' AND n.nspname = ANY(:names)"
                            " AND has_schema_privilege(n.oid, 'USAGE')"
                            " AND has_column_privilege(c.oid, 'sent_at', 'SELECT')"
                        ),
                        {"names": list(by_schema)},
                    ).scalars()
                )
                if not ready:
                    return []
                union = " UNION ALL ".join(
                    f"SELECT {i} AS n WHERE EXISTS (SELECT 1 FROM {_quote(schema)}"  # noqa: S608
                    ".outbox_messages WHERE sent_at IS NULL)"
                    for i, schema in enumerate(ready)
                )
                rows = conn.execute(text(union)).scalars().all()
        except Exception:
            log.exception("outbox sweep of %s failed", shared.url.render_as_string())
            return []
        return [by_schema[ready[i]] for i in rows]

    @staticmethod
    def _engine_pending(engine: Engine) -> bool:
        try:
            with engine.connect() as conn:
                return bool(
                    conn.execute(
                        text("SELECT EXISTS (SELECT 1 FROM outbox_messages WHERE sent_at IS NULL)")
                    ).scalar()
                )
        except Exception:
            log.exception("outbox sweep of %s failed", engine.url.render_as_string())
            return False

    @staticmethod
    def _sqlite_pending(target: _Target) -> bool:
        path = str(target.engine.url.database)
        stamp = _file_stamp(path)
        if stamp == target.stamp:
            return False  # unchanged since it was found empty
        try:
            conn: Any = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
            try:
                row = conn.execute(
                    "SELECT 1 FROM outbox_messages WHERE sent_at IS NULL LIMIT 1"
                ).fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            log.debug("outbox sweep: %s not readable (yet)", path, exc_info=True)
            return False
        target.stamp = None if row else stamp
        return row is not None
