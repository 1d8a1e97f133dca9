"""The API reference page at /docs/api: the OpenAPI document rendered on the server.

No script and nothing from another site: every route with its fields, their types and an example
of its request and answer, all read from the same document `/openapi.json` serves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from zitui.server.api.openapi import openapi_document
from zitui.server.rendering import render
from zitui.server.state import get_services

REF_PREFIX = "#/components/schemas/"
MAX_DEPTH = 6


@dataclass(frozen=True)
class FieldDoc:
    name: str
    type: str
    required: bool
    about: str


@dataclass(frozen=True)
class OperationDoc:
    anchor: str
    method: str
    path: str
    summary: str
    description: str
    zitadel: bool
    params: list[str]
    request: list[FieldDoc]
    request_schema: str
    request_example: str
    response: list[FieldDoc]
    response_schema: str
    response_example: str
    errors: list[tuple[str, str]]


@dataclass(frozen=True)
class SchemaDoc:
    name: str
    about: str
    fields: list[FieldDoc]


async def api_reference(request: Request) -> Response:
    document = openapi_document(get_services(request).settings.issuer)
    schemas = document["components"]["schemas"]
    tags: dict[str, list[OperationDoc]] = {}
    for path, methods in document["paths"].items():
        for method, spec in methods.items():
            tags.setdefault(spec["tags"][0], []).append(_operation(path, method, spec, schemas))
    context = {
        "document": document,
        "tags": tags,
        "schemas": [_schema(name, schema, schemas) for name, schema in sorted(schemas.items())],
    }
    return render(request, "api/reference.html", context)


def _operation(
    path: str, method: str, spec: dict[str, Any], schemas: dict[str, Any]
) -> OperationDoc:
    body = spec.get("requestBody", {}).get("content", {}).get("application/json", {})
    answer = spec["responses"]["200"]["content"]["application/json"]["schema"]
    request_ref = body.get("schema", {}).get("$ref", "")
    return OperationDoc(
        anchor=spec["operationId"],
        method=method.upper(),
        path=path,
        summary=spec["summary"],
        description=spec.get("description", ""),
        zitadel=spec["x-zitadel-compatible"],
        params=[p["name"] for p in spec.get("parameters", [])],
        request=_fields(_resolve(request_ref, schemas), schemas) if request_ref else [],
        request_schema=_name(request_ref),
        request_example=_dump(example({"$ref": request_ref}, schemas)) if request_ref else "",
        response=_fields(_resolve(answer["$ref"], schemas), schemas),
        response_schema=_name(answer["$ref"]),
        response_example=_dump(example(answer, schemas)),
        errors=[(code, r["description"]) for code, r in spec["responses"].items() if code != "200"],
    )


def _schema(name: str, schema: dict[str, Any], schemas: dict[str, Any]) -> SchemaDoc:
    return SchemaDoc(
        name=name, about=schema.get("description", ""), fields=_fields(schema, schemas)
    )


def _fields(schema: dict[str, Any], schemas: dict[str, Any]) -> list[FieldDoc]:
    required = set(schema.get("required", []))
    return [
        FieldDoc(name, type_name(prop), name in required, _about(prop))
        for name, prop in schema.get("properties", {}).items()
    ]


def type_name(schema: dict[str, Any]) -> str:
    """A short type for a JSON Schema: `string`, `Profile`, `array of AuthFactor`, `a | null`."""
    if "$ref" in schema:
        return _name(schema["$ref"])
    if "anyOf" in schema:
        return " | ".join(type_name(s) for s in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {type_name(schema.get('items', {}))}"
    if kind == "string" and "format" in schema:
        return f"string ({schema['format']})"
    return str(kind)


def example(schema: dict[str, Any], schemas: dict[str, Any], depth: int = 0) -> Any:
    """A value the schema accepts, from its examples and defaults where it gives them."""
    if "$ref" in schema:
        return example(_resolve(schema["$ref"], schemas), schemas, depth + 1)
    if schema.get("examples"):
        return schema["examples"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return example(options[0], schemas, depth) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object" and depth < MAX_DEPTH:
        props = schema.get("properties", {})
        return {name: example(p, schemas, depth + 1) for name, p in props.items()}
    if kind == "array" and depth < MAX_DEPTH:
        return [example(schema.get("items", {}), schemas, depth + 1)]
    return _SCALARS.get(str(kind), {}) if kind != "string" else _string(schema)


_SCALARS: dict[str, Any] = {"integer": 0, "number": 0, "boolean": True, "null": None}


def _string(schema: dict[str, Any]) -> str:
    if schema.get("format") == "date-time":
        return "2026-01-31T09:30:00Z"
    return "string"


def _about(prop: dict[str, Any]) -> str:
    parts = [prop.get("description", "")]
    if "maxLength" in prop:
        parts.append(f"at most {prop['maxLength']} characters")
    for option in prop.get("anyOf", []):
        if "maxLength" in option:
            parts.append(f"at most {option['maxLength']} characters")
    return "; ".join(p for p in parts if p)


def _resolve(ref: str, schemas: dict[str, Any]) -> dict[str, Any]:
    return dict(schemas[_name(ref)])


def _name(ref: str) -> str:
    return ref.removeprefix(REF_PREFIX)


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)
