"""The closed loop of a referral's status, over the full table of (current, new) pairs.

The expected table is written out from ARCHITECTURE.md, not derived from the code: requested →
sent → received → accepted | rejected → scheduled → started → completed | aborted; only
forward (a step may be skipped: an agency's answer can overtake the receipt); ``rejected``
only before acceptance; ``withdrawn`` (by the office) and ``revoked`` (consent withdrawn) from
any open state; nothing leaves a terminal state and nothing returns to ``requested``.
"""

from __future__ import annotations

import pytest

from services.agreements.models.vocabulary import TERMINAL_REFERRAL_STATUSES, ReferralStatus
from services.agreements.operations.referral_history import transition_allowed

S = ReferralStatus
ALWAYS_FROM_OPEN = {S.WITHDRAWN, S.REVOKED}

ALLOWED: dict[ReferralStatus, set[ReferralStatus]] = {
    S.REQUESTED: {
        S.SENT,
        S.RECEIVED,
        S.ACCEPTED,
        S.REJECTED,
        S.SCHEDULED,
        S.STARTED,
        S.COMPLETED,
        S.ABORTED,
        *ALWAYS_FROM_OPEN,
    },
    S.SENT: {
        S.RECEIVED,
        S.ACCEPTED,
        S.REJECTED,
        S.SCHEDULED,
        S.STARTED,
        S.COMPLETED,
        S.ABORTED,
        *ALWAYS_FROM_OPEN,
    },
    S.RECEIVED: {
        S.ACCEPTED,
        S.REJECTED,
        S.SCHEDULED,
        S.STARTED,
        S.COMPLETED,
        S.ABORTED,
        *ALWAYS_FROM_OPEN,
    },
    S.ACCEPTED: {S.SCHEDULED, S.STARTED, S.COMPLETED, S.ABORTED, *ALWAYS_FROM_OPEN},
    S.SCHEDULED: {S.STARTED, S.COMPLETED, S.ABORTED, *ALWAYS_FROM_OPEN},
    S.STARTED: {S.COMPLETED, S.ABORTED, *ALWAYS_FROM_OPEN},
    S.REJECTED: set(),
    S.COMPLETED: set(),
    S.ABORTED: set(),
    S.WITHDRAWN: set(),
    S.REVOKED: set(),
}

PAIRS = [(current, new) for current in ReferralStatus for new in ReferralStatus]


def test_the_table_covers_every_status() -> None:
    """A new status must be added to the table above before this file passes again."""
    assert set(ALLOWED) == set(ReferralStatus)
    assert {s for s, targets in ALLOWED.items() if not targets} == set(TERMINAL_REFERRAL_STATUSES)


@pytest.mark.parametrize(("current", "new"), PAIRS, ids=[f"{c}->{n}" for c, n in PAIRS])
def test_transition_allowed(current: ReferralStatus, new: ReferralStatus) -> None:
    assert transition_allowed(current, new) is (new in ALLOWED[current])


@pytest.mark.parametrize("status", list(ReferralStatus))
def test_no_status_moves_to_itself(status: ReferralStatus) -> None:
    assert transition_allowed(status, status) is False


@pytest.mark.parametrize("status", list(ReferralStatus))
def test_nothing_returns_to_requested(status: ReferralStatus) -> None:
    assert transition_allowed(status, S.REQUESTED) is False


@pytest.mark.parametrize("status", [S.ACCEPTED, S.SCHEDULED, S.STARTED])
def test_no_rejection_after_acceptance(status: ReferralStatus) -> None:
    assert transition_allowed(status, S.REJECTED) is False
    assert transition_allowed(status, S.ABORTED) is True
