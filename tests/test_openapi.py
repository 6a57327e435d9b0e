"""The OpenAPI description (chalicelib/openapi.yaml) agrees with the routes and is itself valid.

The fuzzing in tests/test_fuzz.py checks the running API against the description; these
tests check the description: the same routes as Chalice registers, a valid OpenAPI 3.1
document, and examples that match their own schemas.
"""

import json
import re
import urllib.parse
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi

from app import _VISIT_ID

SPEC_PATH = Path(__file__).resolve().parent.parent / "chalicelib" / "openapi.yaml"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
SPEC = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def operations():
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method.upper(), operation


def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        node = _pointer(node["$ref"])
    return node


def _pointer(ref: str):
    assert ref.startswith("#/"), ref
    node = SPEC
    for part in urllib.parse.unquote(ref[2:]).split("/"):  # a URI fragment: `{` is `%7B`
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def test_the_spec_is_a_valid_openapi_3_1_document():
    assert SPEC["openapi"].startswith("3.1")
    validate_openapi(SPEC)


def test_the_spec_and_the_chalice_routes_are_the_same_set(app):
    # Chalice answers OPTIONS (CORS preflight) itself; it is not a route of ours.
    registered = {(path, method) for path, methods in app.routes.items() for method in methods if method != "OPTIONS"}
    described = {(path, method) for path, method, _ in operations()}

    assert registered - described == set(), "routes missing from chalicelib/openapi.yaml"
    assert described - registered == set(), "operations in chalicelib/openapi.yaml that the app does not serve"


def test_path_parameters_have_the_names_chalice_uses(app):
    for path, method, operation in operations():
        in_path = set(re.findall(r"{(\w+)}", path))
        declared = {
            resolve(p)["name"]
            for p in SPEC["paths"][path].get("parameters", []) + operation.get("parameters", [])
            if resolve(p)["in"] == "path"
        }
        assert declared == in_path, f"{method} {path}"


def test_the_visit_id_pattern_is_the_one_the_api_enforces():
    assert SPEC["components"]["parameters"]["SessionId"]["schema"]["pattern"] == _VISIT_ID.pattern


def test_every_operation_has_a_unique_operation_id():
    ids = [operation.get("operationId") for _, _, operation in operations()]
    assert None not in ids
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("path, method", [(p, m) for p, m, o in operations() if o.get("security", SPEC["security"])])
def test_every_protected_operation_documents_401_and_403(path, method):
    responses = SPEC["paths"][path][method.lower()]["responses"]
    assert {"401", "403"} <= set(responses)


@pytest.mark.parametrize("path, method", [(p, m) for p, m, _ in operations() if "{visit_id}" in p])
def test_every_operation_on_a_visit_documents_404(path, method):
    assert "404" in SPEC["paths"][path][method.lower()]["responses"]


@pytest.mark.parametrize("path, method", [(p, m) for p, m, o in operations() if "requestBody" in o])
def test_every_operation_with_a_json_body_documents_400_and_415(path, method):
    assert {"400", "415"} <= set(SPEC["paths"][path][method.lower()]["responses"])


def test_every_response_has_a_schema_and_an_example():
    missing = []
    for path, method, operation in operations():
        for status, response in operation["responses"].items():
            for media_type, content in resolve(response).get("content", {}).items():
                if "schema" not in content or not ("example" in content or "examples" in content):
                    missing.append(f"{method} {path} {status} {media_type}")
    assert missing == []


def test_every_request_body_has_an_example():
    missing = [
        f"{method} {path}"
        for path, method, operation in operations()
        if "requestBody" in operation
        and not any("example" in c or "examples" in c for c in resolve(operation["requestBody"])["content"].values())
    ]
    assert missing == []


def _examples():
    """(where, schema, example) for every example in the spec: media types, parameters and schemas."""

    def media(where, content):
        for media_type, body in content.items():
            schema = body.get("schema", {})
            if "example" in body:
                yield f"{where} {media_type}", schema, body["example"]
            for name, example in body.get("examples", {}).items():
                yield f"{where} {media_type} ({name})", schema, resolve(example)["value"]

    for path, method, operation in operations():
        where = f"{method} {path}"
        if "requestBody" in operation:
            yield from media(f"{where} request", resolve(operation["requestBody"])["content"])
        for status, response in operation["responses"].items():
            yield from media(f"{where} {status}", resolve(response).get("content", {}))
    for name, parameter in SPEC["components"].get("parameters", {}).items():
        if "example" in parameter:
            yield f"parameter {name}", parameter["schema"], parameter["example"]
    for name, schema in SPEC["components"]["schemas"].items():
        for index, example in enumerate(schema.get("examples", [])):
            yield f"schema {name} [{index}]", schema, example
        for prop, sub in schema.get("properties", {}).items():
            for index, example in enumerate(sub.get("examples", [])):
                yield f"schema {name}.{prop} [{index}]", sub, example


EXAMPLES = list(_examples())


def test_the_spec_has_examples_to_check():
    assert len(EXAMPLES) > 40


@pytest.mark.parametrize("where, schema, example", EXAMPLES, ids=[where for where, _, _ in EXAMPLES])
def test_every_example_matches_its_schema(where, schema, example):
    # The spec's own components ride along, so `#/components/...` references resolve.
    root = dict(schema, components=SPEC["components"])
    validator = Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(example)]
    assert errors == []


def test_the_api_serves_the_spec_file_as_it_is(client):
    response = client.http.get("/openapi.yaml")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/yaml")
    assert response.body.decode("utf-8") == SPEC_PATH.read_text(encoding="utf-8")


def test_the_spec_holds_only_json_values():
    # YAML reads an unquoted 2026-03-05 as a date; a client generator reading the JSON form would choke.
    assert json.loads(json.dumps(SPEC)) == SPEC
