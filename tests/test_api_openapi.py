"""The OpenAPI 3.1 document generated from the account API's route table, and the reference
page rendered from it."""

from __future__ import annotations

import html
import re
from typing import Any

from tests import oidc_fixtures as fx
from tests.oidc_fixtures import Harness
from zitui.server import paths
from zitui.server.api.routes import OPERATIONS

harness = fx.harness


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


async def test_the_document_lists_every_route_with_its_models(harness: Harness) -> None:
    response = await harness.http.get(paths.OPENAPI)
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": harness.issuer}]
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An access token (opaque or JWT) or a personal access token",
    }
    listed = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    assert listed == {(o.method, o.path) for o in OPERATIONS}
    schemas = document["components"]["schemas"]
    for ref in refs(document):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    profile = document["paths"]["/auth/v1/users/me/profile"]["put"]
    body = profile["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    fields = schemas[body.rsplit("/", 1)[1]]["properties"]
    assert {
        "firstName",
        "lastName",
        "nickName",
        "displayName",
        "preferredLanguage",
        "gender",
    } <= set(fields)
    error = profile["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
    assert schemas[error.rsplit("/", 1)[1]]["required"] == ["kind", "code", "message"]
    for methods in document["paths"].values():
        for spec in methods.values():
            assert {"200", "401"} <= set(spec["responses"]), spec["operationId"]
            assert spec["security"] == [{"bearer": []}]


async def test_the_reference_page_shows_every_route_without_scripts(harness: Harness) -> None:
    response = await harness.http.get(paths.API_REFERENCE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = html.unescape(response.text)
    for operation in OPERATIONS:
        assert f"<code>{operation.method} {operation.path}</code>" in page
    assert "<script" not in page
    for link in re.findall(r'(?:href|src)="([^"]*)"', response.text):
        assert link.startswith(("/", "#", "data:")), link
    assert '"firstName": "Alice"' in page  # an example request body
    assert "<code>isEmailVerified</code>" in page  # a response field
