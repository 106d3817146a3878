"""The OpenAPI document is valid OpenAPI 3, public, and describes every route the API serves."""

from __future__ import annotations

from openapi_spec_validator import validate

from tests.fixtures.platform import Platform


def test_openapi_document_is_valid_and_complete(sqlite_platform: Platform) -> None:
    response = sqlite_platform.http().get("/t/freiburg/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json
    validate(spec)  # raises on an invalid document
    assert spec["servers"] == [{"url": "/t/freiburg", "description": "Stadt Freiburg im Breisgau"}]
    flows = spec["components"]["securitySchemes"]["oauth2"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "/t/freiburg/oauth/token"

    app = sqlite_platform.dispatcher.tenant_app("freiburg")
    assert app is not None
    served = {
        (rule.rule.replace("<uuid:", "{").replace(">", "}"), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.endpoint.startswith("api.")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    documented = {(path, method) for path, item in spec["paths"].items() for method in item
                  if method in ("get", "post", "put", "patch", "delete")}  # fmt: skip
    assert served == documented
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in ("post", "put", "patch"):
                assert "422" in operation["responses"], (method, path)
