"""Partner simulators: each plays one agency kind for the demo and the tests.

A simulated agency receives referrals over its channel and answers by rules, with delays:
received at once, then accepted or rejected (with a reason code), an appointment, the start
and the completion of the measure. The foreigners' office also imposes the § 44a course
obligation when it takes up a language referral. The rules are data, so a test can change them.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

#: Purposes each agency kind takes up; others are rejected as not its responsibility.
RESPONSIBLE_FOR = {
    "jobcenter": frozenset({"work", "education", "benefits", "language"}),
    "arbeitsagentur": frozenset({"work", "education", "recognition"}),
    "auslaenderbehoerde": frozenset({"residence", "language"}),
}

MEASURES = {
    "work": ("job_placement", "Vermittlungscoaching"),
    "education": ("training", "Berufsvorbereitende Maßnahme"),
    "language": ("integration_course", "Integrationskurs mit Alphabetisierung"),
    "recognition": ("qualification_recognition", "Anerkennungsberatung"),
    "benefits": ("counselling", "Leistungsberatung"),
    "residence": ("counselling", "Beratung zum Aufenthalt"),
}


#: The status an answer of each type tells (what a status.query is then answered with).
ANSWERED_STATUS = {
    "referral.received": "received",
    "referral.accepted": "accepted",
    "referral.rejected": "rejected",
    "appointment.scheduled": "scheduled",
    "measure.started": "started",
    "measure.completed": "completed",
    "measure.aborted": "aborted",
}


@dataclass
class SimulationRules:
    """How a simulated agency behaves. Delays in seconds after the previous answer."""

    responsible_for: frozenset[str]
    decision_delay: float = 0.2
    schedule_delay: float = 0.2
    start_delay: float = 0.2
    complete_delay: float = 0.2
    #: Share of deliveries the agency fails to take (its system is "down").
    failure_rate: float = 0.0
    #: Share of started measures that are aborted instead of completed.
    abort_rate: float = 0.0
    impose_course_obligation: bool = False

    @classmethod
    def for_kind(cls, kind: str, **overrides: Any) -> SimulationRules:
        base = cls(
            responsible_for=RESPONSIBLE_FOR[kind],
            impose_course_obligation=kind == "auslaenderbehoerde",
        )
        for key, value in overrides.items():
            setattr(base, key, value)
        return base


SendAnswer = Callable[[dict[str, Any]], None]


@dataclass(order=True)
class _Scheduled:
    due: float
    order: int
    answer: dict[str, Any] = field(compare=False)


class SimulatedAgency:
    """The agency's behaviour, independent of the channel it is reached through."""

    def __init__(self, kind: str, rules: SimulationRules | None = None, *, seed: int = 0) -> None:
        self.kind = kind
        self.rules = rules or SimulationRules.for_kind(kind)
        self.rng = random.Random(seed)
        self.received: list[dict[str, Any]] = []
        self.withdrawn: set[str] = set()
        #: Where each referral stands as far as this agency has answered (for status.query).
        self.status: dict[str, str] = {}
        self._queue: list[_Scheduled] = []
        self._counter = itertools.count()
        self._lock = threading.Lock()
        #: Called when an answer is scheduled (runs the adapter's job on the shared pool).
        self.wake: Callable[[], None] | None = None

    def refuses_delivery(self) -> bool:
        return self.rng.random() < self.rules.failure_rate

    def _answer(
        self, message_type: str, referral_id: str | None, payload: dict[str, Any], delay: float
    ) -> None:
        answer = {
            "id": str(uuid.uuid4()),
            "type": message_type,
            "version": 1,
            "correlation_id": referral_id,
            "occurred_at": datetime.now(UTC).isoformat(),
            "payload": payload,
        }
        with self._lock:
            heapq.heappush(
                self._queue, _Scheduled(time.monotonic() + delay, next(self._counter), answer)
            )
        if self.wake is not None:
            self.wake()

    def on_message(self, envelope: dict[str, Any]) -> None:
        """A message from Integra (the verified canonical envelope as a dict)."""
        message_type = envelope.get("type")
        payload = envelope.get("payload", {})
        if message_type == "referral.withdrawn":
            self.withdrawn.add(str(payload.get("referral_id")))
            return
        if message_type == "status.query":
            rid = str(payload.get("referral_id"))
            with self._lock:
                status = self.status.get(rid, "unknown")
            answer = {"referral_id": rid, "status": status, "as_of": datetime.now(UTC).isoformat()}
            self._answer("status.answer", rid, answer, 0.0)
            return
        if message_type != "referral.requested":
            return  # consent.revoked: a real agency erases the data; message.rejected: log
        self.received.append(envelope)
        rid = str(payload["referral_id"])
        now = datetime.now(UTC)
        rules = self.rules
        self._answer(
            "referral.received", rid, {"referral_id": rid, "received_at": now.isoformat()}, 0.0
        )
        if payload["purpose"] not in rules.responsible_for:
            self._answer(
                "referral.rejected",
                rid,
                {
                    "referral_id": rid,
                    "rejected_at": now.isoformat(),
                    "reason_code": "not_responsible",
                    "reason_text": f"{self.kind} ist für '{payload['purpose']}' nicht zuständig",
                },
                rules.decision_delay,
            )
            return
        delay = rules.decision_delay
        self._answer(
            "referral.accepted", rid, {"referral_id": rid, "accepted_at": now.isoformat()}, delay
        )
        if rules.impose_course_obligation and payload["purpose"] == "language":
            identity = payload.get("client", {}).get("identity")
            if identity:
                self._answer(
                    "course_obligation.imposed",
                    None,
                    {
                        "obligation_id": str(uuid.uuid4()),
                        "client": identity,
                        "imposed_by": self.kind,
                        "imposed_at": now.date().isoformat(),
                        "course": "integration_course",
                    },
                    delay,
                )
        delay += rules.schedule_delay
        self._answer(
            "appointment.scheduled",
            rid,
            {
                "referral_id": rid,
                "starts_at": (now + timedelta(days=7)).replace(microsecond=0).isoformat(),
                "location": f"{self.kind}, Erdgeschoss, Raum 12",
            },
            delay,
        )
        kind, name = MEASURES[payload["purpose"]]
        delay += rules.start_delay
        self._answer(
            "measure.started",
            rid,
            {
                "referral_id": rid,
                "started_at": now.isoformat(),
                "measure": {"kind": kind, "name": name},
            },
            delay,
        )
        delay += rules.complete_delay
        if self.rng.random() < rules.abort_rate:
            self._answer(
                "measure.aborted",
                rid,
                {"referral_id": rid, "aborted_at": now.isoformat(), "reason_code": "dropped_out"},
                delay,
            )
        else:
            self._answer(
                "measure.completed",
                rid,
                {"referral_id": rid, "completed_at": now.isoformat()},
                delay,
            )

    def due_answers(self) -> list[dict[str, Any]]:
        """Answers whose time has come, in order; answers of withdrawn referrals are dropped."""
        now = time.monotonic()
        due = []
        with self._lock:
            while self._queue and self._queue[0].due <= now:
                answer = heapq.heappop(self._queue).answer
                if answer.get("correlation_id") in self.withdrawn:
                    continue
                reached = ANSWERED_STATUS.get(answer["type"])
                if reached is not None and answer.get("correlation_id"):
                    self.status[answer["correlation_id"]] = reached
                due.append(answer)
        return due

    def next_due(self) -> float | None:
        """Seconds until the next scheduled answer is due; None when none is scheduled."""
        with self._lock:
            if not self._queue:
                return None
            return max(0.0, self._queue[0].due - time.monotonic())

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)
