"""The OpenAPI 3.1 document of the account API, generated from the route table and models.

Schemas come from pydantic (JSON Schema 2020-12, which OpenAPI 3.1 uses as is); requests in
validation mode, responses in serialization mode, so a field with a default is optional in a
request and listed as answered in a response.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from zitui.errors import HTTP_STATUS
from zitui.server.api.models import ApiError
from zitui.server.api.operations import Operation
from zitui.server.api.routes import OPERATIONS

REF = "#/components/schemas/{model}"
Refs = dict[tuple[Any, JsonSchemaMode], str]
STATUS_TEXT = {
    200: "Done",
    400: "Invalid request: the `field` names the problem",
    401: "No token, an invalid, expired or revoked one, or a sign-in too old for this change",
    403: "Not allowed",
    404: "Not found",
    409: "Already exists",
    410: "Expired",
    412: "Refused in the current state",
    429: "Too many attempts; see Retry-After",
    503: "Busy; see Retry-After",
}
KINDS_BY_STATUS = {
    status: sorted(kind for kind, s in HTTP_STATUS.items() if s == status) for status in STATUS_TEXT
}
SECURITY = "bearer"


@cache
def openapi_document(issuer: str) -> dict[str, Any]:
    """The whole document; `servers` names the issuer the API is reached at."""
    refs, schemas = _schemas(OPERATIONS)
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "zitui account API",
            "version": "1",
            "description": "The signed-in user's own account (`me`), with ZITADEL's auth API "
            "paths and JSON names where ZITADEL has the route. Authenticate with an access "
            "token issued with the scope `urn:zitadel:iam:org:project:id:zitadel:aud`, or a "
            "personal access token.",
        },
        "servers": [{"url": issuer}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                SECURITY: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An access token (opaque or JWT) or a personal access token",
                }
            },
        },
        "security": [{SECURITY: []}],
    }


def _schemas(
    operations: tuple[Operation, ...],
) -> tuple[Refs, dict[str, Any]]:
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(ApiError, "serialization"): None}
    for operation in operations:
        if operation.request is not None:
            wanted[(operation.request, "validation")] = None
        wanted[(operation.response, "serialization")] = None
    keys, top = models_json_schema(list(wanted), ref_template=REF)
    refs = {key: value["$ref"] for key, value in keys.items()}
    return refs, top.get("$defs", {})


def _operation(operation: Operation, refs: Refs) -> dict[str, Any]:
    error_ref = refs[(ApiError, "serialization")]
    responses: dict[str, Any] = {
        "200": _content(STATUS_TEXT[200], refs[(operation.response, "serialization")])
    }
    for status in operation.statuses:
        responses[str(status)] = _content(STATUS_TEXT.get(status, "Error"), error_ref)
        if status == 401:
            responses["401"]["headers"] = {
                "WWW-Authenticate": {
                    "description": "The RFC 6750 challenge",
                    "schema": {"type": "string"},
                }
            }
    spec: dict[str, Any] = {
        "operationId": _camel(operation.operation_id),
        "summary": operation.summary,
        "tags": [operation.tag],
        "security": [{SECURITY: []}],
        "responses": responses,
        "x-zitadel-compatible": operation.zitadel,
    }
    if operation.description:
        spec["description"] = operation.description
    if operation.path_params:
        spec["parameters"] = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 200},
            }
            for name in operation.path_params
        ]
    if operation.request is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": refs[(operation.request, "validation")]}}
            },
        }
    return spec


def _content(description: str, ref: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)
