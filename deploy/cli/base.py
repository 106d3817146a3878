"""The ``integra`` command group, its context (settings and registry, loaded on first use) and
what several commands share."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from deploy.logs import configure_logging
from services.agreements.models.vocabulary import Role
from tenants.registry import Registry, RegistryError, Tenant, load_registry
from tenants.settings import ConfigurationError, Settings, load_settings


class Context:
    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._registry: Registry | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings()
            except ConfigurationError as exc:
                raise click.ClickException(f"configuration: {exc}") from exc
        return self._settings

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            try:
                self._registry = load_registry(self.settings.tenants_dir)
            except RegistryError as exc:
                raise click.ClickException(str(exc)) from exc
        return self._registry

    def tenant(self, slug: str) -> Tenant:
        tenant = self.registry.get(slug)
        if tenant is None:
            known = ", ".join(self.registry.tenants)
            raise click.ClickException(f"unknown tenant {slug!r}; known: {known}")
        return tenant


pass_context = click.make_pass_decorator(Context, ensure=True)

#: Roles an API client or a staff member can have (the bus's own "service" role is not one).
STAFF_ROLES = [role.value for role in Role if role is not Role.SERVICE]


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """Integra: integration agreements for municipal migration counselling."""
    # Everything an integra process creates (databases, bus and exchange files, logs,
    # exports) is for its own user only, from the first byte: people's residence, health and
    # family data are in those files.
    os.umask(0o077)
    context = ctx.ensure_object(Context)
    try:
        log_format = context.settings.log_format
    except click.ClickException:
        log_format = "text"  # the command that needs the settings reports the error
    configure_logging(verbose=verbose, log_format=log_format)


@contextmanager
def tenant_session(ctx: Context, slug: str) -> Iterator[Session]:
    """A transaction on the tenant's database, as the CLI's operations need it."""
    from tenants.databases import create_tenant_engine

    tenant = ctx.tenant(slug)
    engine = create_tenant_engine(ctx.settings, tenant, pool_size=1)
    try:
        with Session(engine, info={"tenant": slug}) as session, session.begin():
            yield session
    finally:
        engine.dispose()
