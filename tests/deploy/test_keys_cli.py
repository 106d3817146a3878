"""``integra keys``: rotate a tenant's bus signing key, keep the old one verifying until it
is retired; bad input changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from deploy.cli import main
from messaging.signing import BusKeyring, EnvelopeSigner, ensure_tenant_keys, keyring_path
from tenants.settings import load_settings


def integra(home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"INTEGRA_HOME": str(home)})
    return result.exit_code, result.output


def test_rotate_then_retire(tmp_path: Path) -> None:
    settings = load_settings({"INTEGRA_HOME": str(tmp_path)})
    ensure_tenant_keys(settings, "freiburg")
    (old,) = [
        e["jwk"]["kid"]
        for e in json.loads(keyring_path(settings, "freiburg").read_text())["signing"]
    ]
    code, out = integra(tmp_path, "keys", "rotate", "freiburg")
    assert code == 0, out
    listed = dict(
        line.split("\t") for line in integra(tmp_path, "keys", "list", "freiburg")[1].splitlines()
    )
    assert listed[old] == "accepted" and list(listed.values()).count("active") == 1
    new = next(kid for kid, status in listed.items() if status == "active")
    assert EnvelopeSigner(BusKeyring.load(settings, "freiburg")).keys.signing_key.kid == new

    before = keyring_path(settings, "freiburg").read_bytes()
    for args, message in (
        (("keys", "retire", "freiburg", new), "active key cannot be retired"),
        (("keys", "retire", "freiburg", "no-such-kid"), "has no signing key"),
        (("keys", "rotate", "atlantis"), "unknown tenant"),
    ):
        code, out = integra(tmp_path, *args)
        assert code == 1 and message in out, out
    assert keyring_path(settings, "freiburg").read_bytes() == before

    assert integra(tmp_path, "keys", "retire", "freiburg", old)[0] == 0
    listed = dict(
        line.split("\t") for line in integra(tmp_path, "keys", "list", "freiburg")[1].splitlines()
    )
    assert listed[old] == "retired"
