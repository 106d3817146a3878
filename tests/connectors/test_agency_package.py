"""The agency package ships apart from the platform: it imports nothing of Integra, works
copied alone, and its copies of the names both sides must agree on equal the platform's own."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from messaging.topology import AGENCY_EXCHANGE, AgencyPair
from services.connectors import agency
from services.connectors.agency import protocol
from services.connectors.channels import amqp, webhook, webhook_callback
from services.connectors.partner_keys import PARTNER_ALG
from tenants.vocabulary import AGENCY_ANSWER_TYPES, AGENCY_KINDS

PACKAGE = Path(agency.__file__).resolve().parent
THIRD_PARTY = {"pika", "joserfc", "requests"}
PLATFORM = ("deploy", "gateway", "services", "messaging", "tenants")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(level, module) of every import in a module; level 0 is absolute."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(0, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or ""))
    return found


def test_the_package_imports_only_the_standard_library_and_its_three_libraries() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert {m.name for m in modules} >= {"amqp_client.py", "webhook_client.py", "protocol.py"}
    for module in modules:
        for level, name in _imports(module):
            if level:
                assert level == 1, f"{module.name} reaches out of the package: {name}"
                continue
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or top in THIRD_PARTY, (
                f"{module.name} imports {name}: the agency package may use only the standard "
                f"library and {sorted(THIRD_PARTY)}"
            )


def test_the_import_check_would_catch_a_platform_import(tmp_path: Path) -> None:
    leaky = tmp_path / "leaky.py"
    leaky.write_text("from messaging.topology import AgencyPair\nfrom .. import runtime\n")
    assert _imports(leaky) == [(0, "messaging.topology"), (2, "")]


BLOCKER = """
import importlib.abc, sys

class RefusePlatform(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {platform!r}:
            raise ImportError(f"the agency package imported the platform: {{name}}")
        return None

sys.meta_path.insert(0, RefusePlatform())
sys.path.insert(0, {root!r})

import json
from joserfc import jws
from joserfc.jwk import ECKey
from integra_agency import amqp_client, protocol, webhook_client

key = ECKey.generate_key("P-256", parameters={{"kid": "jc-1"}}, private=True)
signed = webhook_client.sign_answer(key, {{"id": "x", "type": "referral.received"}})
token = jws.deserialize_compact(signed.decode(), key, algorithms=[protocol.ANSWER_JWS_ALG])
queue = protocol.referrals_queue("essen", "jobcenter")
print(json.dumps({{"header": token.protected, "queue": queue,
                  "client": amqp_client.AgencyClient.__name__}}))
"""


def test_the_package_works_copied_alone_without_the_platform(tmp_path: Path) -> None:
    shutil.copytree(
        PACKAGE, tmp_path / "integra_agency", ignore=shutil.ignore_patterns("__pycache__")
    )
    script = BLOCKER.format(platform=PLATFORM, root=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert '"alg": "ES256"' in result.stdout and '"kid": "jc-1"' in result.stdout
    assert '"queue": "essen.agency.jobcenter.referrals"' in result.stdout
    assert '"client": "AgencyClient"' in result.stdout


def test_the_blocker_refuses_a_platform_import(tmp_path: Path) -> None:
    shutil.copytree(
        PACKAGE, tmp_path / "integra_agency", ignore=shutil.ignore_patterns("__pycache__")
    )
    (tmp_path / "integra_agency" / "protocol.py").write_text("import messaging.topology\n")
    script = BLOCKER.format(platform=PLATFORM, root=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "the agency package imported the platform: messaging" in result.stderr


# --- the copies agree with the platform's declarations ------------------------------------------


@pytest.mark.parametrize("kind", AGENCY_KINDS)
def test_queue_names_are_the_topologys(kind: str) -> None:
    pair = AgencyPair(kind, "essen")
    assert protocol.referrals_queue("essen", kind) == pair.referrals
    assert protocol.AGENCY_EXCHANGE == pair.from_agency == AGENCY_EXCHANGE
    assert protocol.answers_routing_key("essen", kind) == pair.answers


def test_answer_types_are_the_vocabularys() -> None:
    assert dict(protocol.ANSWER_TYPES) == dict(AGENCY_ANSWER_TYPES)


def test_the_answer_signature_is_the_one_the_callback_verifies() -> None:
    assert protocol.ANSWER_JWS_ALG == PARTNER_ALG
    assert protocol.ANSWER_JWS_TYP == webhook_callback.ANSWER_JWS_TYP


def test_the_probe_is_the_one_partner_check_sends() -> None:
    assert protocol.PROBE_HEADER == webhook.PROBE_HEADER
    assert protocol.PROBE_TYPE == webhook.PROBE_TYPE


def test_content_types_are_the_channels() -> None:
    assert protocol.JOSE_CONTENT_TYPE == webhook.JOSE_CONTENT_TYPE == amqp.CONTENT_TYPE_SIGNED
    assert protocol.JSON_CONTENT_TYPE == amqp.CONTENT_TYPE_ANSWER
