"""A connector: one per tenant and agency kind.

It consumes the messages the agreement service addresses to its agency kind, delivers them
through the agency's channel (in order per referral, retried with backoff, never after a
withdrawal or revocation, and a referral only while its consent is valid: checked right before
every attempt), and turns the agency's answers into canonical status messages for the
agreement service. Everything it sends to the bus goes through its own outbox; everything
it receives is recorded in its own inbox, in the same transaction as the effect.

The jobs live apart: taking referrals from the bus (:mod:`.referrals`), the delivery loop with
its consent gate (:mod:`.delivery`, :mod:`.consent`), answer intake (:mod:`.answers`), over the
shared bookkeeping (:mod:`.ledger`). :class:`Connector` composes them for one tenant's agency
and runs the loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from messaging.envelope import Envelope
from messaging.scheduler import WakeEvent
from messaging.signing import BusKeyring, EnvelopeSigner
from messaging.store import utcnow
from tenants.registry import PartnerEntry, Tenant
from tenants.settings import Settings

from .answers import AnswerIntake
from .channels.base import AgencyAnswer, Channel, IntakeResult
from .delivery import DeliveryLoop
from .ledger import ConnectorLedger
from .referrals import ReferralHandlers
from .status_queries import QUIET_AFTER, StatusQueries

log = logging.getLogger(__name__)

#: Seconds between two looks for referrals the agency has gone quiet on.
STATUS_CHECK_INTERVAL = 60.0
#: Bounds of the wait for the next retry on the shared timer (the connector's clock may be
#: shifted by tests, so a far-off retry is looked at again after MAX_RETRY_WAIT).
MIN_RETRY_WAIT = 0.05
MAX_RETRY_WAIT = 60.0


class Connector:
    """One tenant's connector to one partner agency through ``channel``, on its own database
    (``engine``). ``clock`` is the connector's time for consent ends, retries and delay
    reports; it may be replaced while running (tests shift it)."""

    def __init__(
        self,
        settings: Settings,
        tenant: Tenant,
        partner: PartnerEntry,
        engine: Engine,
        channel: Channel,
        *,
        delay_threshold: timedelta = timedelta(minutes=5),
        status_query_after: timedelta = QUIET_AFTER,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.tenant = tenant
        self.partner = partner
        self.kind = partner.kind
        self.engine = engine
        self.channel = channel
        self.stop_event = threading.Event()
        self.wake_event = WakeEvent()
        self.ledger = ConnectorLedger(tenant.slug, partner.kind, clock=clock, wake=self.wake_event)
        self.referrals = ReferralHandlers(self.ledger)
        self.delivery = DeliveryLoop(
            engine,
            channel,
            self.ledger,
            EnvelopeSigner(BusKeyring.load(settings, tenant.slug)),
            delay_threshold=delay_threshold,
            stop=self.stop_event,
        )
        self.answers = AnswerIntake(
            engine, tenant.slug, partner.kind, channel, clock=lambda: self.ledger.now()
        )
        self.status_queries = StatusQueries(engine, self.ledger, quiet_after=status_query_after)
        self._next_status_check = 0.0
        self.delivered = 0

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.ledger.clock

    @clock.setter
    def clock(self, clock: Callable[[], datetime]) -> None:
        self.ledger.clock = clock

    # --- the jobs, as the runtime, the webhook callback and the tests call them ---------------

    def register_handlers(self, consumer: Any) -> None:
        self.referrals.register(consumer)

    def on_referral_requested(self, session: Session, envelope: Envelope) -> None:
        self.referrals.on_referral_requested(session, envelope)

    def on_referral_withdrawn(self, session: Session, envelope: Envelope) -> None:
        self.referrals.on_referral_withdrawn(session, envelope)

    def on_consent_revoked(self, session: Session, envelope: Envelope) -> None:
        self.referrals.on_consent_revoked(session, envelope)

    def deliver_due(self, limit: int = 200) -> int:
        return self.delivery.deliver_due(limit)

    def intake(self, answer: AgencyAnswer) -> IntakeResult:
        return self.answers.intake(answer)

    def poll_answers(self, limit: int = 100) -> int:
        return self.answers.poll_answers(limit)

    def query_quiet_referrals(self) -> int:
        """Ask the agency about referrals it has gone quiet on (at most once a minute: the
        search is cheap, but hundreds of connectors should not run it every tenth second)."""
        now = time.monotonic()
        if now < self._next_status_check:
            return 0
        self._next_status_check = now + STATUS_CHECK_INTERVAL
        return self.status_queries.queue_due()

    # --- running -----------------------------------------------------------------------------

    def run_pass(self) -> float | None:
        """One pass as a job of the shared pool: status queries, due deliveries, answers
        waiting on a pull channel. Returns 0 while there is more, the seconds until the next
        retry is due, or None (woken again by a commit, a delivery or the file watcher).
        ``delivered`` tells the caller whether the agency got something in this pass."""
        busy = self.query_quiet_referrals()
        self.delivered = self.deliver_due()
        busy += self.delivered + self.poll_answers()
        if busy:
            return 0.0
        wait = self.delivery.seconds_to_next()
        if wait is None:
            return None
        return max(MIN_RETRY_WAIT, min(wait, MAX_RETRY_WAIT))

    def run(self, poll_interval: float | None = None) -> None:
        """Deliver and poll until :meth:`stop`. Pull channels are polled every 0.1 s on a
        broker, every second on the embedded default (where every poll is a SQLite query)."""
        if poll_interval is None:
            poll_interval = 0.1 if self.settings.broker_url else 1.0
        while not self.stop_event.is_set():
            busy = 0
            try:
                busy += self.query_quiet_referrals()
                busy += self.deliver_due()
                busy += self.poll_answers()
            except Exception:
                log.exception("connector %s/%s: pass failed", self.tenant.slug, self.kind)
            if not busy:
                self.wake_event.wait(poll_interval)
                self.wake_event.clear()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(
            target=self.run, name=f"connector-{self.tenant.slug}-{self.kind}", daemon=True
        )
        thread.start()
        return thread

    def stop(self) -> None:
        self.stop_event.set()
        self.wake_event.set()
