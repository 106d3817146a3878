"""Demo data for the embedded default: seeded once per tenant, through the same operations
the API uses, so the demo shows real states (and real audit entries)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.agreements.models import Client, Office
from services.agreements.models.vocabulary import Role, SigningParty
from services.agreements.operations import agreements, assessments, clients, consents, referrals
from services.agreements.operations.api_clients import create_api_client
from services.agreements.principal import Principal
from tenants.registry import Tenant
from tenants.secrets import new_password, read_json, write_secret_json
from tenants.settings import Settings

PEOPLE = [
    ("Amina", "Haddad", "SY", ["ar", "en"]),
    ("Olena", "Kovalenko", "UA", ["uk", "ru"]),
    ("Farid", "Rahimi", "AF", ["fa", "ps"]),
    ("Zeynep", "Yıldız", "TR", ["tr", "ku"]),
    ("Dawit", "Tesfaye", "ER", ["ti", "en"]),
    ("Maryam", "Hosseini", "IR", ["fa", "en"]),
    ("Ahmad", "Al-Khatib", "IQ", ["ar", "ku"]),
    ("Iryna", "Melnyk", "UA", ["uk", "en"]),
]


def _goals(today: Any) -> list[dict[str, Any]]:
    return [
        {
            "field": "language",
            "target": "Deutsch B1 im Integrationskurs erreichen",
            "due_date": today + timedelta(days=300),
            "steps": [
                {
                    "description": "Anmeldung zum Integrationskurs",
                    "owner_side": "client",
                    "due_date": today + timedelta(days=30),
                },
                {
                    "description": "Kursträger mit Kinderbetreuung suchen",
                    "owner_side": "institution",
                    "due_date": today + timedelta(days=20),
                },
            ],
        },
        {
            "field": "work",
            "target": "Beratung zur Arbeitsaufnahme beim Jobcenter",
            "due_date": today + timedelta(days=180),
            "steps": [
                {
                    "description": "Termin beim Jobcenter vereinbaren",
                    "owner_side": "institution",
                    "due_date": today + timedelta(days=14),
                },
            ],
        },
    ]


def seed_tenant(session: Session, tenant: Tenant, seed: int = 0) -> bool:
    """Seed demo cases once; returns False if the tenant already has clients. The demo offer
    directory is seeded first, once (also into tenants seeded before it existed)."""
    from deploy.demo_offers import seed_offers

    seed_offers(session, tenant)
    if session.scalar(select(func.count()).select_from(Client)):
        return False
    rng = random.Random(f"{tenant.slug}-{seed}")
    office_list = list(session.scalars(select(Office).where(Office.active).order_by(Office.key)))
    today = datetime.now(UTC).date()
    for index, office in enumerate(office_list[:3]):
        principal = Principal("service:demo-seed", Role.COUNSELLOR, tenant.slug, office.id)
        people = rng.sample(PEOPLE, 6)
        for n, (given, family, country, languages) in enumerate(people):
            client = clients.create_client(
                session,
                principal,
                {
                    "given_name": given,
                    "family_name": family,
                    "birth_date": today.replace(year=today.year - rng.randint(19, 55), day=1),
                    "country_of_origin": country,
                    "languages": languages,
                    "arrival_date": today - timedelta(days=rng.randint(30, 700)),
                    "office_id": office.id,
                    "residence_status": "recognised_refugee",
                },
            )
            stage = (n + index) % 6
            if stage == 0:
                continue  # just registered
            consent = consents.give_consent(
                session,
                principal,
                client.id,
                {
                    "recipient_kind": "jobcenter",
                    "purposes": ["work", "language"],
                    "data_categories": ["identity", "languages", "work_history"],
                    "signed_at": datetime.now(UTC) - timedelta(days=2),
                    "expires_at": None,
                },
            )
            assessments.record_assessment(
                session,
                principal,
                client.id,
                {
                    "language": {"level": "A1", "needs": ["Integrationskurs"], "situation": ""},
                    "work": {"situation": "Berufserfahrung im Handel", "needs": ["Anerkennung"]},
                },
            )
            if stage == 1:
                continue
            agreement = agreements.draft_agreement(session, principal, client.id, _goals(today))
            if stage == 2:
                continue
            agreements.sign_agreement(session, principal, agreement.id, SigningParty.CLIENT)
            if stage == 3:
                continue
            agreements.sign_agreement(session, principal, agreement.id, SigningParty.COUNSELLOR)
            step = agreement.goals[1].steps[0]
            referrals.create_referral(
                session,
                principal,
                {
                    "client_id": client.id,
                    "recipient_kind": "jobcenter",
                    "purpose": "work",
                    "consent_id": consent.id,
                    "step_id": step.id,
                    "note": "",
                },
            )
            if stage == 4:
                continue
            agreements.record_review(
                session,
                principal,
                agreement.id,
                [{"step_id": s.id, "result": "done", "note": ""} for s in agreement.steps],
                "Kinderbetreuung erst nach Wartezeit",
            )
            agreements.close_agreement(
                session,
                principal,
                agreement.id,
                "goals_reached",
                "Ziele gemeinsam erreicht; Kurs erfolgreich abgeschlossen.",
            )
    return True


def credentials_path(settings: Settings) -> Path:
    return settings.secrets_dir / "demo-credentials.json"


def stored_credentials(settings: Settings) -> dict[str, Any]:
    stored: dict[str, Any] = read_json(credentials_path(settings), {})
    return stored


def create_demo_credentials(session: Session) -> dict[str, Any]:
    """Demo API clients for a tenant (flushed, not committed): a counsellor of the first
    office and a tenant admin. Save them with ``save_credentials`` after the commit."""
    office = session.scalar(select(Office).where(Office.active).order_by(Office.key))
    assert office is not None
    counsellor = create_api_client(session, "demo counsellor", Role.COUNSELLOR, office.key)
    admin = create_api_client(session, "demo tenant admin", Role.TENANT_ADMIN)
    return {
        "counsellor": {
            "client_id": counsellor.client_id,
            "client_secret": counsellor.client_secret,
            "office": office.key,
        },
        "tenant_admin": {"client_id": admin.client_id, "client_secret": admin.client_secret},
    }


def save_credentials(settings: Settings, slug: str, entry: dict[str, Any]) -> None:
    """Demo secrets live in var/secrets (mode 0600) so every start can print them."""
    stored = stored_credentials(settings)
    stored[slug] = entry
    write_secret_json(credentials_path(settings), stored)


# -- demo staff logins for the portal ------------------------------------------------------------


def logins_path(settings: Settings) -> Path:
    return settings.secrets_dir / "demo-logins.json"


def stored_logins(settings: Settings) -> dict[str, Any]:
    stored: dict[str, Any] = read_json(logins_path(settings), {})
    return stored


def _demo_user(
    session: Session, username: str, display_name: str, role: Role, office_key: str | None
) -> tuple[Any, str]:
    """Create the demo user, or give it a new password if it exists: a first start killed
    after committing the users but before writing their passwords to the file must not fail
    the next start (``username_taken``) nor leave logins nobody knows. Returns the user and
    the password."""
    from services.agreements.identity.staff import create_user, set_password
    from services.agreements.models import User

    password = new_password(12)
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = create_user(session, username, display_name, role, office_key, password)
    else:
        set_password(user, password)
    return user, password


def create_demo_logins(session: Session, tenant: Tenant) -> list[dict[str, str]]:
    """Portal users of a tenant (flushed, not committed): a counsellor per office, who is
    responsible for the office's demo cases, and a tenant admin, each with a generated
    password. Only argon2 hashes go to the database."""
    logins = []
    office_list = session.scalars(select(Office).where(Office.active).order_by(Office.key))
    for office in office_list:
        username = f"beratung-{office.key}"
        user, password = _demo_user(session, username, f"Demo-Beratung {office.key}",
                                    Role.COUNSELLOR, office.key)  # fmt: skip
        # the demo cases of the office are this counsellor's ("Meine Fälle")
        session.execute(
            update(Client)
            .where(Client.office_id == office.id, Client.responsible_id.is_(None))
            .values(responsible_id=user.id)
        )
        logins.append({"username": username, "password": password, "role": "counsellor",
                       "office": office.key})  # fmt: skip
    name = f"Demo-Administration {tenant.name}"
    _, password = _demo_user(session, "admin", name, Role.TENANT_ADMIN, None)
    logins.append({"username": "admin", "password": password, "role": "tenant_admin"})
    return logins


def seed_demo_logins(settings: Settings, tenants: list[Tenant]) -> dict[str, Any]:
    """Create the demo logins of every tenant that has none yet; returns all of them."""
    from tenants.databases import create_tenant_engine

    known = stored_logins(settings)
    for tenant in tenants:
        if tenant.slug in known:
            continue
        engine = create_tenant_engine(settings, tenant, pool_size=1)
        try:
            with Session(engine, info={"tenant": tenant.slug}) as session, session.begin():
                logins = create_demo_logins(session, tenant)
        finally:
            engine.dispose()
        known[tenant.slug] = logins
        write_secret_json(logins_path(settings), known)
    return known


def print_logins(logins: dict[str, Any], base: str) -> None:
    import click

    click.echo("")
    click.echo("Demo portal logins (generated for this installation):")
    for slug, entries in sorted(logins.items()):
        click.echo(f"  {base}/t/{slug}/")
        for entry in entries:
            where = f" ({entry['office']})" if entry.get("office") else ""
            click.echo(f"    {entry['username']:32} {entry['password']}  {entry['role']}{where}")
