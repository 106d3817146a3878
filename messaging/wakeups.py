"""In-process wake-ups where the database cannot notify (SQLite: the embedded default).

A commit that appended outbox messages signals its relay, and a publish on the embedded bus
signals the consumers of that bus file, in the writer's own process: the shared work pool
(``messaging.runtime``) runs their jobs at once. Writers in other processes are caught by the
process's one outbox sweeper and one bus-file watcher, never by a poll per tenant.

Keys are the database or bus URL as the components see it; a signal never carries data, it
only ends a wait early.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_listeners: dict[str, set[Callable[[], None]]] = {}
_lock = threading.Lock()


def add(key: str, wake: Callable[[], None]) -> None:
    """Call ``wake`` whenever :func:`signal` is called for ``key`` (until :func:`remove`)."""
    with _lock:
        _listeners.setdefault(key, set()).add(wake)


def remove(key: str, wake: Callable[[], None]) -> None:
    with _lock:
        listeners = _listeners.get(key)
        if listeners is not None:
            listeners.discard(wake)
            if not listeners:
                del _listeners[key]


@contextmanager
def listening(key: str, wake: Callable[[], None]) -> Iterator[None]:
    """Call ``wake`` whenever :func:`signal` is called for ``key``, while in the block."""
    add(key, wake)
    try:
        yield
    finally:
        remove(key, wake)


def signal(key: str) -> None:
    """Wake everything in this process listening on ``key`` (after the write committed)."""
    with _lock:
        listeners = list(_listeners.get(key, ()))
    for wake in listeners:
        wake()
