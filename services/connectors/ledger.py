"""A connector's bookkeeping of its referrals, shared by its bus handlers and its delivery loop.

What is queued for the agency (in order per referral), what is cancelled before it left, and
what the connector reports to the agreement service about it: every report goes through the
connector's own outbox, in the transaction of the change it reports.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from messaging import outbox
from messaging.contracts import new_envelope
from messaging.envelope import Envelope
from messaging.topology import AGREEMENTS

from .consent import ConsentLapsed
from .store import AgencyDelivery, Delivery, TrackedReferral

log = logging.getLogger(__name__)


class ConnectorLedger:
    """The records of one connector (tenant and agency kind), by its clock.

    ``wake`` is set once a transaction that queued something for the agency commits, so the
    delivery loop need not wait for its next round. ``clock`` may be replaced (tests shift it).
    """

    def __init__(
        self,
        tenant_slug: str,
        kind: str,
        *,
        clock: Callable[[], datetime],
        wake: threading.Event,
    ) -> None:
        self.tenant_slug = tenant_slug
        self.kind = kind
        self.clock = clock
        self.wake = wake

    def now(self) -> datetime:
        return self.clock()

    def queue_for_agency(
        self, session: Session, envelope: Envelope, referral_id: uuid.UUID
    ) -> None:
        """Queue ``envelope`` for the agency, after everything queued before about the referral."""
        last = session.scalar(
            select(AgencyDelivery.sequence)
            .where(AgencyDelivery.referral_id == referral_id)
            .order_by(AgencyDelivery.sequence.desc())
            .limit(1)
        )
        session.add(
            AgencyDelivery(
                message_id=envelope.id,
                referral_id=referral_id,
                sequence=(last or 0) + 1,
                type=envelope.type,
                envelope=envelope.to_dict(),
                next_attempt_at=self.now(),
            )
        )
        # Wake the delivery loop once this transaction is committed, not before.
        event.listen(session, "after_commit", lambda _s: self.wake.set(), once=True)

    def cancel_pending(self, session: Session, referral_id: uuid.UUID) -> bool:
        """Cancel what the agency has not received; True if the request itself never left."""
        pending = list(
            session.scalars(
                select(AgencyDelivery).where(
                    AgencyDelivery.referral_id == referral_id,
                    AgencyDelivery.status == Delivery.PENDING,
                )
            )
        )
        for delivery in pending:
            delivery.status = Delivery.CANCELLED
        return any(d.type == "referral.requested" for d in pending)

    def agency_has_request(self, session: Session, referral_id: uuid.UUID) -> bool:
        """Whether the agency took the referral request (so it must hear of its end)."""
        delivered = session.scalar(
            select(AgencyDelivery.message_id)
            .where(
                AgencyDelivery.referral_id == referral_id,
                AgencyDelivery.type == "referral.requested",
                AgencyDelivery.status == Delivery.DELIVERED,
            )
            .limit(1)
        )
        return delivered is not None

    def not_sent(self, session: Session, tracked: TrackedReferral, lapsed: ConsentLapsed) -> None:
        """Close a referral the agency never received and tell the agreement service why, so
        the referral's history says it was not sent (delivery.failed v2)."""
        tracked.closed = True
        log.info("referral %s not sent: %s", tracked.referral_id, lapsed.reason)
        self.report(
            session,
            tracked.referral_id,
            "delivery.failed",
            {
                "referral_id": str(tracked.referral_id),
                "failed_at": self.now().isoformat(),
                "reason_code": lapsed.reason_code,
                "reason": lapsed.reason,
            },
            version=2,
        )

    def to_agency(
        self,
        message_type: str,
        referral_id: uuid.UUID,
        payload: dict[str, Any],
        *,
        consent_id: uuid.UUID | None = None,
    ) -> Envelope:
        """A message for the agency that the connector writes itself, on Integra's behalf
        (a status query, a withdrawal the agency would otherwise not hear of)."""
        return new_envelope(
            message_type,
            1,
            tenant=self.tenant_slug,
            sender=AGREEMENTS,
            recipient=self.kind,
            correlation_id=referral_id,
            consent_id=consent_id,
            payload=payload,
        )

    def report(
        self,
        session: Session,
        referral_id: uuid.UUID,
        message_type: str,
        payload: dict[str, Any],
        *,
        version: int = 1,
    ) -> None:
        """A message from this connector to the agreement service about a referral (outbox)."""
        outbox.append(
            session,
            Envelope(
                type=message_type,
                version=version,
                tenant=self.tenant_slug,
                sender=self.kind,
                recipient=AGREEMENTS,
                correlation_id=referral_id,
                payload=payload,
            ),
        )
