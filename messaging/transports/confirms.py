"""Publisher-confirm tracking on a pika channel, written once for every publisher here.

With ``confirm_delivery`` the broker numbers a channel's publishes from 1 and acknowledges
(or nacks) them by that number, one at a time or ``multiple`` up to it. Whoever publishes
tracks what each number stands for and settles it when its confirm arrives.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ConfirmTracker(Generic[T]):
    """Outstanding publishes of one confirm-mode channel, by delivery tag."""

    def __init__(self) -> None:
        self.outstanding: dict[int, T] = {}
        self._next_tag = 1

    def track(self, item: T) -> int:
        """Record the next publish on the channel as ``item``; returns its delivery tag."""
        tag = self._next_tag
        self._next_tag += 1
        self.outstanding[tag] = item
        return tag

    def settle(self, frame: Any) -> list[tuple[int, T, bool]]:
        """The publishes a ``Basic.Ack``/``Basic.Nack`` frame settles: (tag, item, acked)."""
        method = frame.method
        acked = type(method).__name__ == "Ack"
        if method.multiple:
            tags = sorted(t for t in self.outstanding if t <= method.delivery_tag)
        else:
            tags = [method.delivery_tag]
        settled = []
        for tag in tags:
            if tag in self.outstanding:
                settled.append((tag, self.outstanding.pop(tag), acked))
        return settled

    def __len__(self) -> int:
        return len(self.outstanding)
