"""Walking a tenant's audit chain and naming the first entry that was edited, inserted or
deleted (``integra audit verify``).

Each entry's hash covers its content and its predecessor's hash (``audit._digest``). Walking
in id order, an entry is intact when its content still gives its hash and its ``prev_hash``
is the hash of the entry before it. Where that fails, the neighbours tell what happened:

- content does not give the hash, but the next entry links to it: **edited** (changed in
  place; its successor still points at the hash it had);
- content does not give the hash, and the next entry links past it: **inserted**;
- intact by itself but not linked, and its ``prev_hash`` is the hash of an entry further back:
  the entries in between were **inserted**;
- intact by itself, not linked, ids missing before it: entries were **deleted** there;
- intact by itself, not linked, no ids missing: the entry before it was **edited** and its
  hash recomputed.

What a hash chain cannot show on its own: the newest entries removed (the chain just ends
earlier) or a whole chain recomputed. ``head`` is returned so an operator can keep it
elsewhere and pass it back (``--expect-head``) to catch those.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import AuditEvent
from .audit import GENESIS, _digest

#: How many recent hashes the walk remembers to recognise an insertion (memory stays bounded
#: however long the chain).
RECENT = 10_000

BreakKind = Literal["edited", "inserted", "deleted", "truncated"]


@dataclass(frozen=True)
class ChainBreak:
    kind: BreakKind
    entry_id: int | None
    detail: str


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head: str
    broken: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.broken is None


@dataclass(frozen=True)
class _Entry:
    id: int
    hash: str
    prev_hash: str
    content_ok: bool


def _entries(session: Session) -> Generator[_Entry, None, None]:
    """The chain in id order, streamed (a server-side cursor on PostgreSQL), closed however
    the walk ends."""
    query = select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=2000)
    result = session.scalars(query)
    try:
        for event in result:
            yield _Entry(event.id, event.hash, event.prev_hash, _digest(event) == event.hash)
            session.expunge(event)
    finally:
        result.close()


def verify_audit_chain(session: Session, expect_head: str | None = None) -> ChainReport:
    """Walk the whole chain once (streamed); the first break found, classified."""
    walk = _entries(session)
    try:
        return _walk(walk, session, expect_head)
    finally:
        walk.close()


def _walk(walk: Iterator[_Entry], session: Session, expect_head: str | None) -> ChainReport:
    seen: dict[str, int] = {GENESIS: 0}  # recent hash → id of the entry that has it
    previous: _Entry | None = None
    pending: _Entry | None = None  # an entry whose content failed: judged by its successor
    count = 0

    def judge_pending(successor: _Entry | None) -> ChainBreak:
        assert pending is not None
        before = previous.hash if previous is not None else GENESIS
        if successor is not None and successor.prev_hash == pending.hash:
            return ChainBreak("edited", pending.id, "its content no longer matches its hash")
        if successor is not None and successor.prev_hash == before:
            return ChainBreak("inserted", pending.id, "the chain runs past it")
        if successor is None:
            return ChainBreak(
                "edited", pending.id, "the newest entry does not match its hash (edited or added)"
            )
        return ChainBreak("edited", pending.id, "its content and its links do not match")

    for entry in walk:
        count += 1
        if pending is not None:
            return ChainReport(count, "", judge_pending(entry))
        before = previous.hash if previous is not None else GENESIS
        if not entry.content_ok:
            pending = entry  # judged by what comes next
            continue
        if entry.prev_hash != before:
            if entry.prev_hash in seen:
                first = _first_after(session, seen[entry.prev_hash])
                return ChainReport(
                    count, "", ChainBreak("inserted", first, "the chain runs past it")
                )
            previous_id = previous.id if previous is not None else 0
            if entry.id - previous_id > 1:
                missing = f"{previous_id + 1}" + (
                    f"–{entry.id - 1}" if entry.id - previous_id > 2 else ""
                )
                return ChainReport(
                    count,
                    "",
                    ChainBreak("deleted", previous_id + 1, f"entries {missing} are missing"),
                )
            return ChainReport(
                count,
                "",
                ChainBreak(
                    "edited",
                    previous_id or None,
                    "changed and its hash recomputed: its successor points elsewhere",
                ),
            )
        seen[entry.hash] = entry.id
        if len(seen) > RECENT:
            del seen[next(iter(seen))]  # only the recent ones: memory stays bounded
        previous = entry
    if pending is not None:
        return ChainReport(count, "", judge_pending(None))
    head = previous.hash if previous is not None else GENESIS
    if expect_head is not None and expect_head != head:
        # the chain may have grown past the recorded head; it must still hold it
        known = session.scalar(select(AuditEvent.id).where(AuditEvent.hash == expect_head))
        if known is None:
            return ChainReport(
                count, head, ChainBreak("truncated", None, "the recorded head is not in it")
            )
    return ChainReport(count, head, None)


def _first_after(session: Session, entry_id: int) -> int | None:
    found: int | None = session.scalar(
        select(func.min(AuditEvent.id)).where(AuditEvent.id > entry_id)
    )
    return found
