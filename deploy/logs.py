"""Logging of every integra process: readable lines, or JSON lines for a log collector
(``INTEGRA_LOG_FORMAT=json``), each entry with the tenant and correlation id of the work
it belongs to (``tenants.log_context``)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from tenants.log_context import current

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(ids)s: %(message)s"


class ContextFilter(logging.Filter):
    """Puts the bound tenant and correlation id on every record (``record.tenant`` …)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = current()
        record.tenant = ids["tenant"]
        record.correlation_id = ids["correlation_id"]
        shown = [f"{k}={v}" for k, v in ids.items() if v]
        record.ids = f" [{' '.join(shown)}]" if shown else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, tenant,
    correlation_id, process, thread, and the exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "tenant": getattr(record, "tenant", None),
            "correlation_id": getattr(record, "correlation_id", None),
            "process": record.process,
            "thread": record.threadName,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _IntegraHandler(logging.StreamHandler):
    """The handler :func:`configure_logging` installs (and replaces when called again)."""


def configure_logging(*, verbose: bool, log_format: str) -> None:
    """One handler on stderr in ``log_format`` on the root logger. Like
    ``logging.basicConfig``, it leaves logging alone where someone else has configured it
    already (a test runner's capture)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _IntegraHandler)]:
        root.removeHandler(old)
    if root.handlers:
        return
    handler = _IntegraHandler()
    handler.addFilter(ContextFilter())
    json_lines = log_format == "json"
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)
