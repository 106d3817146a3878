"""In-process wake-ups where the database cannot notify (SQLite: the embedded default).

On PostgreSQL the outbox relay LISTENs for a NOTIFY and RabbitMQ pushes to consumers. On the
embedded default nothing pushes: relays and consumers would have to poll their SQLite files
often to keep a referral's hops quick. Most writers live in the same process as the readers
(``integra up``), so a writer signals the readers of the same file directly, and the readers
poll only rarely, for writers in other processes (``integra connector run``, the CLI).

Keys are the database or bus URL as the components see it; a signal never carries data, it
only ends a wait early.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_listeners: dict[str, set[Callable[[], None]]] = {}
_lock = threading.Lock()


@contextmanager
def listening(key: str, wake: Callable[[], None]) -> Iterator[None]:
    """Call ``wake`` whenever :func:`signal` is called for ``key``, while in the block."""
    with _lock:
        _listeners.setdefault(key, set()).add(wake)
    try:
        yield
    finally:
        with _lock:
            listeners = _listeners.get(key)
            if listeners is not None:
                listeners.discard(wake)
                if not listeners:
                    del _listeners[key]


def signal(key: str) -> None:
    """Wake everything in this process listening on ``key`` (after the write committed)."""
    with _lock:
        listeners = list(_listeners.get(key, ()))
    for wake in listeners:
        wake()
