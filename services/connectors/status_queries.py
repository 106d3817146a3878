"""Asking a quiet agency where a referral stands (status.query), so a referral never sits
without news for ever: the agency answers with status.answer, which the agreement service
applies (or records beside the status, when it brings nothing new).

A referral the agency took and has not answered about for ``quiet_after`` is queried; again
after another ``quiet_after`` if it stays quiet. Closed referrals (withdrawn, revoked,
rejected, finished) are never queried. The query goes out through the delivery loop, in order
after anything else queued about the referral.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session

from .ledger import ConnectorLedger
from .store import AgencyDelivery, Delivery, TrackedReferral

log = logging.getLogger(__name__)

#: How long an agency may stay silent about a referral it took before it is asked.
QUIET_AFTER = timedelta(days=3)


class StatusQueries:
    def __init__(
        self, engine: Engine, ledger: ConnectorLedger, *, quiet_after: timedelta = QUIET_AFTER
    ) -> None:
        self.engine = engine
        self.ledger = ledger
        self.quiet_after = quiet_after

    def queue_due(self, limit: int = 100) -> int:
        """Queue a status query for each referral the agency has gone quiet on; returns how
        many were queued."""
        now = self.ledger.now()
        quiet_since = now - self.quiet_after
        delivered = (
            select(
                AgencyDelivery.referral_id,
                func.max(AgencyDelivery.delivered_at).label("delivered_at"),
            )
            .where(
                AgencyDelivery.type == "referral.requested",
                AgencyDelivery.status == Delivery.DELIVERED,
            )
            .group_by(AgencyDelivery.referral_id)
            .subquery()
        )
        heard = func.coalesce(TrackedReferral.last_heard_at, delivered.c.delivered_at)
        with Session(self.engine) as session, session.begin():
            quiet = list(
                session.scalars(
                    select(TrackedReferral)
                    .join(delivered, delivered.c.referral_id == TrackedReferral.referral_id)
                    .where(
                        TrackedReferral.closed.is_(False),
                        heard <= quiet_since,
                        or_(
                            TrackedReferral.status_queried_at.is_(None),
                            TrackedReferral.status_queried_at <= quiet_since,
                        ),
                    )
                    .limit(limit)
                    .with_for_update(of=TrackedReferral, skip_locked=True)
                )
            )
            for tracked in quiet:
                query = self.ledger.to_agency(
                    "status.query", tracked.referral_id, {"referral_id": tracked.referral_id}
                )
                self.ledger.queue_for_agency(session, query, tracked.referral_id)
                tracked.status_queried_at = now
        if quiet:
            log.info("asked the %s about %d quiet referrals", self.ledger.kind, len(quiet))
        return len(quiet)
