"""The OpenAPI document is valid and describes exactly the routes the API serves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from openapi_spec_validator import validate

from .conftest import REPO

SPEC_PATH = REPO / "webui" / "openapi.yaml"
PREFIX = "/api/v1"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _spec() -> dict[str, Any]:
    loaded = yaml.safe_load(Path(SPEC_PATH).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _flask_path(rule: str) -> str:
    """`/api/v1/candidates/<int:candidate_id>` → `/candidates/{candidate_id}`."""
    path = re.sub(r"<(?:[a-z_]+(?:\([^)]*\))?:)?([A-Za-z_][A-Za-z0-9_]*)>", r"{\1}", rule)
    return path.removeprefix(PREFIX)


def test_the_spec_is_valid_openapi_3_1() -> None:
    spec = _spec()
    assert spec["openapi"].startswith("3.1")
    validate(spec)
    assert spec["servers"] == [{"url": PREFIX}]
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }


def test_every_api_route_is_in_the_spec_and_vice_versa(web) -> None:  # type: ignore[no-untyped-def]
    app, _store = web
    served: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        methods = set(rule.methods or ()) - IGNORED_METHODS
        served.setdefault(_flask_path(rule.rule), set()).update(m.lower() for m in methods)
    described = {
        path: {method for method in item if method in HTTP_METHODS}
        for path, item in _spec()["paths"].items()
    }
    assert served, "no /api/v1 routes are registered"
    assert served == described


def test_every_operation_documents_errors_with_the_one_error_schema() -> None:
    spec = _spec()
    error_ref = "#/components/schemas/Error"
    shared = spec["components"]["responses"]
    for shared_name, response in shared.items():
        assert response["content"]["application/json"]["schema"] == {"$ref": error_ref}, shared_name
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation["responses"]
            public = operation.get("security") == []
            if not public:
                assert "401" in responses and "403" in responses, (method, path)
            for status, response in responses.items():
                if int(status) < 400:
                    continue
                if "$ref" in response:
                    assert response["$ref"].startswith("#/components/responses/")
                else:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": error_ref}, (method, path, status)


def test_path_parameters_match_the_path_templates() -> None:
    spec = _spec()
    parameters = spec["components"]["parameters"]
    for path, item in spec["paths"].items():
        names = set(re.findall(r"{([^}]+)}", path))
        declared: set[str] = set()
        for holder in [item, *(op for m, op in item.items() if m in HTTP_METHODS)]:
            for parameter in holder.get("parameters", []):
                if "$ref" in parameter:
                    parameter = parameters[parameter["$ref"].rsplit("/", 1)[-1]]
                if parameter["in"] == "path":
                    declared.add(parameter["name"])
        assert declared == names, path


def test_the_spec_is_served_without_login(web) -> None:  # type: ignore[no-untyped-def]
    app, _store = web
    response = app.test_client().get(PREFIX + "/openapi.yaml")
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    assert yaml.safe_load(response.get_data(as_text=True)) == _spec()
