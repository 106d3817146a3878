"""The tenant's taxonomy of offers: the goal fields as terms (``code`` = the field's name)
and finer offer kinds below them. Every tenant starts with the same taxonomy (fixed ids, so a
directory exported by one tenant imports into another); an import can add kinds below a field.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models.vocabulary import GoalField
from .models import OfferTaxonomy, OfferTaxonomyTerm

_NAMESPACE = uuid.UUID("6f1c1e5e-3f0b-5a7e-9a55-1d2c0f4b7a10")
INTEGRA_TAXONOMY_ID = uuid.uuid5(_NAMESPACE, "taxonomy")
TAXONOMY_NAME = "Integra-Angebotsarten"
TAXONOMY_VERSION = "1"


def term_id(code: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"term:{code}")


@dataclass(frozen=True)
class Kind:
    code: str
    name: str
    description: str
    parent: str | None  # a field's code, or None for a field itself


FIELDS = (
    Kind("language", "Sprache", "Deutsch lernen: Kurse und Sprachförderung.", None),
    Kind("education", "Bildung und Ausbildung", "Schule, Ausbildung, Studium.", None),
    Kind("work", "Arbeit", "Arbeitssuche, Beratung und Maßnahmen zur Arbeitsaufnahme.", None),
    Kind("childcare", "Kinderbetreuung", "Kita, Kindertagespflege und Betreuung.", None),
    Kind("recognition", "Anerkennung", "Anerkennung ausländischer Berufsabschlüsse.", None),
    Kind("other", "Sonstiges", "Weitere Beratung und Unterstützung.", None),
)
KINDS = (
    Kind(
        "integrationskurs",
        "Integrationskurs",
        "Integrationskurs des BAMF (Sprachkurs und Orientierungskurs, Ziel Deutsch B1).",
        "language",
    ),
    Kind(
        "berufssprachkurs",
        "Berufssprachkurs nach DeuFöV",
        "Berufsbezogene Deutschsprachförderung (§ 45a AufenthG, DeuFöV), Ziel B2 oder C1.",
        "language",
    ),
    Kind(
        "erstorientierung",
        "Erstorientierungskurs",
        "Erstorientierung und Wertevermittlung für Asylsuchende.",
        "language",
    ),
    Kind("kita", "Kita", "Kindertageseinrichtung (Krippe und Kindergarten).", "childcare"),
    Kind(
        "kindertagespflege",
        "Kindertagespflege",
        "Betreuung bei einer Tagesmutter oder einem Tagesvater.",
        "childcare",
    ),
    Kind(
        "kita_einstieg",
        "Kita-Einstieg: Brücken bauen in frühe Bildung",
        "Niedrigschwellige Angebote, die Familien den Weg in die Kita ebnen.",
        "childcare",
    ),
    Kind(
        "iq_anerkennungsberatung",
        "Anerkennungsberatung im Netzwerk IQ",
        "Beratung zur Anerkennung ausländischer Berufs- und Studienabschlüsse (Förderprogramm IQ).",
        "recognition",
    ),
    Kind(
        "anpassungsqualifizierung",
        "Anpassungsqualifizierung",
        "Qualifizierung bis zur vollen Anerkennung (Förderprogramm IQ).",
        "recognition",
    ),
    Kind(
        "jobcenter_massnahme",
        "Maßnahme des Jobcenters (SGB II)",
        "Maßnahmen zur Aktivierung und beruflichen Eingliederung (§ 16 SGB II, § 45 SGB III).",
        "work",
    ),
    Kind(
        "arbeitsagentur_massnahme",
        "Maßnahme der Agentur für Arbeit (SGB III)",
        "Beratung, Vermittlung und Förderung der Agentur für Arbeit.",
        "work",
    ),
    Kind(
        "ausbildungsvorbereitung",
        "Ausbildungsvorbereitung",
        "Vorbereitung auf eine Ausbildung, Einstiegsqualifizierung.",
        "education",
    ),
    Kind(
        "schulabschluss",
        "Schulabschluss nachholen",
        "Kurse zum Haupt- oder Realschulabschluss.",
        "education",
    ),
    Kind("sozialberatung", "Sozialberatung", "Beratung zu Wohnen, Gesundheit und Alltag.", "other"),
)


def taxonomy_document() -> dict[str, Any]:
    return {
        "id": str(INTEGRA_TAXONOMY_ID),
        "name": TAXONOMY_NAME,
        "description": "Handlungsfelder der Integrationsvereinbarung und Angebotsarten darunter.",
        "version": TAXONOMY_VERSION,
    }


def term_document(kind: Kind) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": str(term_id(kind.code)),
        "code": kind.code,
        "name": kind.name,
        "description": kind.description,
        "taxonomy": TAXONOMY_NAME,
        "taxonomy_id": str(INTEGRA_TAXONOMY_ID),
        "language": "de",
    }
    if kind.parent:
        document["parent_id"] = str(term_id(kind.parent))
    return document


def ensure_taxonomy(session: Session) -> None:
    """Create the tenant's taxonomy and its standard terms where missing (idempotent);
    terms the tenant added or changed stay as they are."""
    if session.get(OfferTaxonomy, INTEGRA_TAXONOMY_ID) is None:
        session.add(
            OfferTaxonomy(id=INTEGRA_TAXONOMY_ID, name=TAXONOMY_NAME, document=taxonomy_document())
        )
        session.flush()
    existing = set(
        session.scalars(
            select(OfferTaxonomyTerm.id).where(OfferTaxonomyTerm.taxonomy_id == INTEGRA_TAXONOMY_ID)
        )
    )
    for kind in (*FIELDS, *KINDS):
        if term_id(kind.code) in existing:
            continue
        document = term_document(kind)
        session.add(
            OfferTaxonomyTerm(
                id=term_id(kind.code),
                taxonomy_id=INTEGRA_TAXONOMY_ID,
                parent_id=term_id(kind.parent) if kind.parent else None,
                code=kind.code,
                name=kind.name,
                document=document,
            )
        )
    session.flush()


def is_field_term(term: OfferTaxonomyTerm) -> bool:
    """The goal fields' own terms, which imports may not change."""
    return term.taxonomy_id == INTEGRA_TAXONOMY_ID and term.code in set(GoalField)


def fields_of_terms(session: Session, term_ids: Iterable[uuid.UUID]) -> set[str]:
    """The goal fields the given terms belong to: a field's own term, or a term of the
    tenant's taxonomy below one (any depth)."""
    fields: set[str] = set()
    pending = set(term_ids)
    seen: set[uuid.UUID] = set()
    while pending:
        rows = session.execute(
            select(OfferTaxonomyTerm.id, OfferTaxonomyTerm.code, OfferTaxonomyTerm.parent_id)
            .where(OfferTaxonomyTerm.id.in_(pending))
            .where(OfferTaxonomyTerm.taxonomy_id == INTEGRA_TAXONOMY_ID)
        ).all()
        seen |= pending
        pending = set()
        for _id, code, parent_id in rows:
            if code in set(GoalField):
                fields.add(code)
            elif parent_id is not None and parent_id not in seen:
                pending.add(parent_id)
    return fields


def term_by_code(session: Session, code: str) -> OfferTaxonomyTerm | None:
    """A term of the tenant's taxonomy by its code."""
    return session.scalar(
        select(OfferTaxonomyTerm).where(
            OfferTaxonomyTerm.taxonomy_id == INTEGRA_TAXONOMY_ID, OfferTaxonomyTerm.code == code
        )
    )
