"""The tenant registry: the 18 shipped files load; a broken file is refused with an error
naming the file and the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tenants.registry import RegistryError, load_registry, load_tenant_file
from tenants.settings import load_settings

SHIPPED = load_settings({}).tenants_dir
FREIBURG = (SHIPPED / "freiburg.toml").read_text(encoding="utf-8")

#: The pilot municipalities of the issue, with their federal states.
PILOT = {
    "berlin-tempelhof-schoeneberg": "BE",
    "freiburg": "BW",
    "stuttgart": "BW",
    "nuernberg": "BY",
    "muenchen": "BY",
    "hamburg-wilhelmsburg": "HH",
    "wiesbaden": "HE",
    "wetzlar": "HE",
    "hannover": "NI",
    "goettingen": "NI",
    "hamm": "NW",
    "essen": "NW",
    "mayen-koblenz": "RP",
    "ludwigshafen": "RP",
    "neumuenster": "SH",
    "leipzig": "SN",
    "stendal": "ST",
    "saarbruecken": "SL",
}


# -- the shipped registry -----------------------------------------------------------------------


def test_the_shipped_registry_holds_the_18_pilot_municipalities() -> None:
    registry = load_registry(SHIPPED)
    assert len(registry) == 18
    assert {t.slug: t.federal_state for t in registry} == PILOT
    assert sum(len(t.offices) for t in registry) == 87
    assert registry.enabled() == list(registry)


def test_every_shipped_tenant_is_complete() -> None:
    for tenant in load_registry(SHIPPED):
        assert tenant.name and tenant.kind in ("city", "district", "borough"), tenant.slug
        assert {o.programme for o in tenant.offices} <= {"MBE", "JMD"}, tenant.slug
        assert len({o.key for o in tenant.offices}) == len(tenant.offices), tenant.slug
        kinds = sorted(p.kind for p in tenant.partners)
        assert kinds == ["arbeitsagentur", "auslaenderbehoerde", "jobcenter"], tenant.slug
        for partner in tenant.partners:
            # The pilot files name no simulator address: those are in the demo overlay only.
            assert partner.webhook_url is None, (tenant.slug, partner.key)
            assert partner.exchange_folder is None, (tenant.slug, partner.key)
            if partner.channel == "xml_file":
                assert partner.authority_id, (tenant.slug, partner.key)
        assert tenant.vhost == f"integra.{tenant.slug}"


def test_a_district_and_a_borough_are_told_apart() -> None:
    registry = load_registry(SHIPPED)
    assert registry.require("mayen-koblenz").kind == "district"
    assert registry.require("berlin-tempelhof-schoeneberg").kind == "borough"
    assert registry.require("freiburg").kind == "city"


def test_an_unknown_slug_is_refused() -> None:
    with pytest.raises(RegistryError, match="atlantis"):
        load_registry(SHIPPED).require("atlantis")
    assert load_registry(SHIPPED).get("atlantis") is None


# -- broken files ---------------------------------------------------------------------------------


def _edit(text: str, old: str, new: str, count: int = 1) -> str:
    assert text.count(old) >= count, f"the fixture no longer contains {old!r}"
    return text.replace(old, new, count)


def _drop_line(text: str, prefix: str) -> str:
    """Without the first line that starts with ``prefix``."""
    lines = text.splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith(prefix))
    return "".join(lines[:index] + lines[index + 1 :])


BROKEN = {
    "missing name": (_drop_line(FREIBURG, "name = "), "name", "Missing data"),
    "missing federal state": (
        _drop_line(FREIBURG, "federal_state = "),
        "federal_state",
        "Missing data",
    ),
    "unknown top-level key": (
        _edit(FREIBURG, 'kind = "city"', 'kind = "city"\ncolour = "blue"'),
        "colour",
        "Unknown field",
    ),
    "unknown office key": (
        _edit(FREIBURG, 'programme = "JMD"', 'programme = "JMD"\nphone = "0761 1"'),
        "offices.2.phone",
        "Unknown field",
    ),
    "federal state not one of the 16": (
        _edit(FREIBURG, 'federal_state = "BW"', 'federal_state = "XX"'),
        "federal_state",
        "Must be one of",
    ),
    "kind not an enum value": (
        _edit(FREIBURG, 'kind = "city"', 'kind = "village"'),
        "kind",
        "Must be one of",
    ),
    "programme not an enum value": (
        _edit(FREIBURG, 'programme = "JMD"', 'programme = "XYZ"'),
        "offices.2.programme",
        "Must be one of",
    ),
    "partner kind not an enum value": (
        _edit(FREIBURG, 'kind = "jobcenter"', 'kind = "sozialamt"'),
        "partners.1.kind",
        "Must be one of",
    ),
    "channel not an enum value": (
        _edit(FREIBURG, 'channel = "amqp"', 'channel = "fax"'),
        "partners.2.channel",
        "Must be one of",
    ),
    "webhook URL on an amqp partner": (
        _edit(FREIBURG, 'channel = "amqp"', 'channel = "amqp"\nwebhook_url = "https://aa.example"'),
        "partners.2.webhook_url",
        "only for the webhook channel",
    ),
    "exchange folder on a webhook partner": (
        _edit(FREIBURG, 'channel = "webhook"', 'channel = "webhook"\nexchange_folder = "/srv/x"'),
        "partners.1.exchange_folder",
        "only for the xml_file channel",
    ),
    "xml_file channel without authority id": (
        _drop_line(FREIBURG, "authority_id = "),
        "partners.0.authority_id",
        "required for the xml_file channel",
    ),
    "webhook URL not a URL": (
        _edit(FREIBURG, 'channel = "webhook"', 'channel = "webhook"\nwebhook_url = "jobcenter"'),
        "partners.1.webhook_url",
        "Not a valid URL",
    ),
    "duplicate office keys": (
        _edit(FREIBURG, 'key = "mbe-diakonie"', 'key = "mbe-caritas"'),
        "offices",
        "duplicate keys ['mbe-caritas']",
    ),
    "two partners of one kind": (
        _edit(FREIBURG, 'kind = "arbeitsagentur"', 'kind = "jobcenter"'),
        "partners",
        "at most one partner per agency kind",
    ),
    "office key not a slug": (
        _edit(FREIBURG, 'key = "jmd-ib"', 'key = "JMD IB"'),
        "offices.2.key",
        "must be a slug",
    ),
    "no office": (
        re.sub(
            r"\[\[offices\]\].*?(?=\[\[partners\]\])", "", FREIBURG, count=0, flags=re.S
        ).replace('kind = "city"', 'kind = "city"\noffices = []'),
        "offices",
        "Shorter than minimum length 1",
    ),
    "external identity provider without issuer": (
        FREIBURG + '\n[identity]\nprovider = "oidc"\nclient_id = "integra"\n',
        "identity.issuer",
        "needs issuer and client_id",
    ),
    "database name with capitals": (
        _edit(FREIBURG, '# name = "integra_freiburg"', 'name = "Integra-Freiburg"'),
        "database.name",
        "String does not match",
    ),
    "wrong type": (
        _edit(FREIBURG, 'kind = "city"', 'kind = "city"\nenabled = "perhaps"'),
        "enabled",
        "Not a valid boolean",
    ),
}


@pytest.mark.parametrize("broken", list(BROKEN))
def test_a_broken_file_names_the_file_and_the_field(tmp_path: Path, broken: str) -> None:
    text, field, reason = BROKEN[broken]
    path = tmp_path / "freiburg.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RegistryError) as raised:
        load_tenant_file(path)
    message = str(raised.value)
    assert str(path) in message
    assert re.search(rf"(^|\s){re.escape(field)}: [^\n]*{re.escape(reason)}", message), message


def test_bad_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "freiburg.toml"
    path.write_text(_edit(FREIBURG, 'federal_state = "BW"', "federal_state = BW"), "utf-8")
    with pytest.raises(RegistryError) as raised:
        load_tenant_file(path)
    message = str(raised.value)
    assert str(path) in message and "not valid TOML" in message
    assert "line 4" in message


def test_a_slug_must_match_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "freiburg-sued.toml"
    path.write_text(FREIBURG, encoding="utf-8")
    with pytest.raises(RegistryError) as raised:
        load_tenant_file(path)
    message = str(raised.value)
    assert str(path) in message
    assert "slug" in message and "'freiburg'" in message and "'freiburg-sued'" in message


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "freiburg.toml"
    with pytest.raises(RegistryError, match=re.escape(str(path))):
        load_tenant_file(path)


def test_the_registry_reports_every_broken_file_at_once(tmp_path: Path) -> None:
    (tmp_path / "freiburg.toml").write_text(FREIBURG, encoding="utf-8")
    essen = (SHIPPED / "essen.toml").read_text(encoding="utf-8")
    (tmp_path / "essen.toml").write_text(_drop_line(essen, "federal_state = "), "utf-8")
    hamm = (SHIPPED / "hamm.toml").read_text(encoding="utf-8")
    (tmp_path / "hamm.toml").write_text(_edit(hamm, 'kind = "city"', 'kind = "town"'), "utf-8")
    with pytest.raises(RegistryError) as raised:
        load_registry(tmp_path)
    message = str(raised.value)
    assert str(tmp_path / "essen.toml") in message and "federal_state" in message
    assert str(tmp_path / "hamm.toml") in message and "kind" in message
    assert str(tmp_path / "freiburg.toml") not in message


def test_a_valid_copy_loads(tmp_path: Path) -> None:
    """The control for the broken variants: the unmodified text is accepted."""
    (tmp_path / "freiburg.toml").write_text(FREIBURG, encoding="utf-8")
    registry = load_registry(tmp_path)
    assert [t.slug for t in registry] == ["freiburg"]
    assert [o.key for o in registry.require("freiburg").offices] == [
        "mbe-caritas",
        "mbe-diakonie",
        "jmd-ib",
    ]


def test_an_empty_or_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no tenant files"):
        load_registry(tmp_path)
    with pytest.raises(RegistryError, match="not found"):
        load_registry(tmp_path / "nowhere")
