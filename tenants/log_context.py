"""The tenant and correlation id of the work a thread is doing, for its log entries.

The gateway binds them for a request, a consumer for a message; the log formatter
(``deploy.logs``) adds them to every entry written meanwhile. Context variables, so
threads and requests never see each other's ids.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_tenant: ContextVar[str | None] = ContextVar("integra_tenant", default=None)
_correlation: ContextVar[str | None] = ContextVar("integra_correlation_id", default=None)


@contextmanager
def bound(*, tenant: str | None = None, correlation_id: object | None = None) -> Iterator[None]:
    """Log entries written inside carry ``tenant`` and ``correlation_id`` (when given)."""
    tenant_token = _tenant.set(tenant) if tenant is not None else None
    corr_token = _correlation.set(str(correlation_id)) if correlation_id is not None else None
    try:
        yield
    finally:
        if corr_token is not None:
            _correlation.reset(corr_token)
        if tenant_token is not None:
            _tenant.reset(tenant_token)


def current() -> dict[str, str | None]:
    return {"tenant": _tenant.get(), "correlation_id": _correlation.get()}
