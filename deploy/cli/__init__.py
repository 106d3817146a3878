"""``integra``: the operator's command line. The commands live by topic beside this module;
importing them here registers them on :data:`main`."""

from . import (  # noqa: F401  (importing registers the commands)
    backup,
    broker,
    bus,
    deploy,
    evaluation,
    keys,
    migrate,
    offers,
    partners,
    run,
    tenants,
)
from .base import main

__all__ = ["main"]
