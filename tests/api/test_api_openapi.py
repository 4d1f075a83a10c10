"""/openapi.json matches the real service: every route is described, every request example in it
goes through the app, and every response is validated against the schema the document gives."""
from __future__ import annotations

import json
import re
import urllib.parse

import pytest
from jsonschema import Draft202012Validator

from api.openapi import openapi_document

METHODS = ("get", "post", "put", "patch", "delete")
BENCHMARK_ONLY = {"/v1/echo"}


@pytest.fixture
def document(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def validate(document: dict, schema: dict, instance: object) -> None:
    """Validate against a schema of the document, its ``#/components/...`` references resolvable."""
    Draft202012Validator({**schema, "components": document["components"]}).validate(instance)


def operations(document: dict):
    """(path, method, operation), POSTs first so that GETs find what the examples stored."""
    ops = [(path, method, op) for path, item in document["paths"].items()
           for method, op in item.items() if method in METHODS]
    return sorted(ops, key=lambda o: o[1] != "post")


def test_document_shape(document):
    assert document["openapi"].startswith("3.1")
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids))


def test_every_route_is_described_and_nothing_else(app, document):
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule in BENCHMARK_ONLY:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    described = {(path, method) for path, method, _ in operations(document)}
    assert routes == described


def test_response_examples_match_their_schemas(document):
    for _, _, op in operations(document):
        for response in op["responses"].values():
            for media in response.get("content", {}).values():
                if "example" in media:
                    validate(document, media["schema"], media["example"])


def request_cases(path: str, op: dict):
    """(url, content_type, body) for every request example of one operation."""
    params = {p["name"]: p["example"] for p in op.get("parameters", []) if "example" in p}
    path_params = {k: v for k, v in params.items() if "{" + k + "}" in path}
    query = {k: v for k, v in params.items() if k not in path_params}
    url = path.format(**path_params) + ("?" + urllib.parse.urlencode(query) if query else "")
    body = op.get("requestBody")
    if not body:
        yield url, None, None
        return
    for content_type, media in body["content"].items():
        for example in media.get("examples", {}).values():
            value = example["value"]
            data = json.dumps(value) if content_type == "application/json" else value
            yield url, content_type, data.encode("utf-8")


def test_every_example_gets_a_documented_valid_response(client, document):
    sent = 0
    for path, method, op in operations(document):
        for url, content_type, data in request_cases(path, op):
            response = client.open(url, method=method.upper(), data=data, content_type=content_type)
            described = op["responses"].get(str(response.status_code))
            assert described, f"{method.upper()} {url}: undocumented status {response.status_code}"
            assert 200 <= response.status_code < 300, (url, response.get_data(as_text=True)[:300])
            media = described["content"][response.mimetype]
            body = response.get_json() if response.mimetype == "application/json" else response.get_data(
                as_text=True)
            validate(document, media["schema"], body)
            sent += 1
    assert sent >= 14  # every example of the document (a guard against silently sending none)


def test_error_responses_match_the_error_schema(client, document):
    error_schema = {"$ref": "#/components/schemas/Error"}
    for response in (client.post("/v1/segment", data=b"{", content_type="application/json"),
                     client.get("/v1/stories/404404"), client.put("/v1/segment")):
        validate(document, error_schema, response.get_json())


def test_document_describes_the_configured_limit():
    assert "1000 bytes" in openapi_document({"MAX_CONTENT_LENGTH": 1000})["info"]["description"]
