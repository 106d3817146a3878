"""``integra``: the operator's command line. The commands live by topic beside this module;
importing them here registers them on :data:`main`."""

from . import broker, bus, evaluation, offers, run, tenants  # noqa: F401  (registers the commands)
from .base import main

__all__ = ["main"]
