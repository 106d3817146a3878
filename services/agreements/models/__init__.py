"""The agreement service's ORM models; importing this package registers every table."""

# the offer directory (HSDS 3) has its own package and models module; importing it here
# registers its tables too (they live in the same tenant database)
from ..offers import models as offer_models  # noqa: F401
from .agreements import Agreement, Goal, Review, ReviewStepResult, Step
from .assessments import Assessment
from .audit import AuditEvent
from .clients import Client, Consent
from .figure_counts import FigureCount, FigureValue
from .login_failures import LoginFailure
from .offices import Office
from .referrals import Referral, ReferralEvent
from .retention import RetentionRun
from .sessions import AuthorizationCode, StaffSession
from .users import AccessToken, ApiClient, User

__all__ = [
    "AccessToken",
    "Agreement",
    "ApiClient",
    "Assessment",
    "AuditEvent",
    "AuthorizationCode",
    "Client",
    "Consent",
    "FigureCount",
    "FigureValue",
    "Goal",
    "LoginFailure",
    "Office",
    "Referral",
    "ReferralEvent",
    "RetentionRun",
    "Review",
    "ReviewStepResult",
    "StaffSession",
    "Step",
    "User",
]
