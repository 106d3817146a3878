"""What every agency channel offers the connector service.

A channel carries canonical messages to one partner agency and brings its answers back. The
connector owns the state (what is pending, what was delivered, retries); a channel only moves
bytes and says whether the agency took them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from messaging.envelope import Envelope


class DeliveryFailed(Exception):
    """The agency did not take the message. ``retryable``: try again later (unreachable,
    timeout, 5xx); otherwise the message can never be delivered as it is (4xx, schema)."""

    def __init__(self, reason: str, *, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


@dataclass(frozen=True)
class AgencyAnswer:
    """An answer from the agency, translated to canonical form by the channel.

    ``message_id`` is the agency's own id for the answer: the same answer delivered twice has
    the same id, so it takes effect once. ``handle`` is the channel's token to settle it.
    """

    message_id: uuid.UUID
    type: str
    version: int
    payload: dict[str, Any]
    occurred_at: datetime
    correlation_id: uuid.UUID | None = None
    handle: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class IntakeResult:
    """What the connector made of an agency's answer; build with the class methods."""

    outcome: Literal["accepted", "duplicate", "refused"]
    reason_code: str | None = None
    reason_text: str | None = None

    @classmethod
    def accepted(cls) -> IntakeResult:
        return cls("accepted")

    @classmethod
    def duplicate(cls) -> IntakeResult:
        return cls("duplicate")

    @classmethod
    def refused(cls, reason_code: str, reason_text: str) -> IntakeResult:
        return cls("refused", reason_code, reason_text)


#: What takes an agency's answer into the connector (commits its effect, idempotent by id).
Intake = Callable[[AgencyAnswer], IntakeResult]


class Channel(Protocol):
    """One partner agency's channel of one tenant."""

    name: str  # "amqp" | "webhook" | "xml_file"

    def deliver(self, envelope: Envelope, signed: bytes) -> None:
        """Hand one message to the agency; raise DeliveryFailed if it did not take it.
        ``signed`` is the JWS of the envelope (tenant key), for channels that carry it."""

    def receive(self, limit: int = 100) -> list[AgencyAnswer]:
        """Answers waiting from the agency (pull channels; push channels return [])."""

    def settle(self, answer: AgencyAnswer) -> None:
        """The answer's effect is committed: remove it from the channel for good."""

    def refuse(self, answer: AgencyAnswer, reason_code: str, reason_text: str) -> None:
        """The answer cannot take effect: tell the agency (message.rejected) and set it aside."""

    def close(self) -> None: ...
