"""One API operation: its declaration (what the OpenAPI document says) and its endpoint.

An operation names its method, path, summary, request and response models, the error statuses
it may answer and the handler. The endpoint authenticates the bearer token (RFC 6750 §2.1),
validates the body against the request model, runs the handler (one core call) and answers the
response model as JSON. Every domain error becomes `{kind, code, message, field}` with the
status of the one error table (zitui/errors.py); a 401 carries the RFC 6750 §3 challenge.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from zitui.core.context import Context, RequestMeta
from zitui.core.services import Services
from zitui.errors import InvalidArgument, ReauthRequired, Unauthenticated, ZituiError, http_status
from zitui.i18n import lookup
from zitui.server.api.models import ApiError
from zitui.server.error_pages import retry_after
from zitui.server.negotiation import request_locale
from zitui.server.state import get_services

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# Bearer tokens only, never cookies: any origin may call the API from a browser.
CORS = {"Access-Control-Allow-Origin": "*"}
REALM = "zitui"
MISSING_TOKEN = "api.token_missing"


@dataclass(frozen=True)
class Call:
    """What a handler gets: the caller's context, the validated body and the path values."""

    ctx: Context
    body: Any
    params: dict[str, str]
    services: Services


Handler = Callable[[Call], Awaitable[BaseModel]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    handler: Handler
    response: type[BaseModel]
    request: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    description: str = ""
    # Whether ZITADEL's auth API has this route (same path and JSON names), or it is zitui's.
    zitadel: bool = True

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    @property
    def path_params(self) -> list[str]:
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{")]

    @property
    def statuses(self) -> tuple[int, ...]:
        """Every error status this operation may answer, as documented."""
        base = {401, 412}  # 412: e.g. a machine user's token at a human's route
        if self.request is not None or self.path_params:
            base.add(400)
        return tuple(sorted(base | set(self.errors)))

    def route(self) -> Route:
        return Route(self.path, endpoint(self), methods=[self.method], name=self.operation_id)


def endpoint(operation: Operation) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        try:
            ctx = await authenticate(request)
            body = await parse_body(request, operation.request)
            services = get_services(request)
            call = Call(ctx, body, dict(request.path_params), services)
            result = await operation.handler(call)
        except ZituiError as error:
            return error_response(request, error)
        content = result.model_dump(mode="json", by_alias=True, exclude_none=True)
        return JSONResponse(content, headers={**NO_STORE, **CORS})

    run.__name__ = operation.operation_id
    return run


async def authenticate(request: Request) -> Context:
    """The context of the user the `Authorization: Bearer` token acts for."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    token = value.strip() if scheme.lower() == "bearer" else ""
    if not token:
        raise Unauthenticated(MISSING_TOKEN, "send an access token: Authorization: Bearer …")
    meta = RequestMeta(
        origin="api",
        ip=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", "")[:400],
    )
    return await get_services(request).tokens.account_context(token, meta)


async def parse_body(request: Request, model: type[BaseModel] | None) -> BaseModel | None:
    if model is None:
        return None
    raw = await request.body()
    try:
        return model.model_validate_json(raw if raw.strip() else b"{}")
    except ValidationError as exc:
        raise invalid_body(exc) from None


def invalid_body(exc: ValidationError) -> InvalidArgument:
    """The first problem of the body, naming its field by the JSON name (`a.b` when nested)."""
    first = exc.errors(include_url=False, include_input=False)[0]
    field = ".".join(str(part) for part in first["loc"])
    kind = first["type"]
    if kind == "json_invalid":
        return InvalidArgument("api.invalid_json", "the body is not valid JSON")
    if kind == "model_type" and not field:
        return InvalidArgument("api.not_object", "the body must be a JSON object")
    if kind == "extra_forbidden":
        return InvalidArgument("api.unknown_field", f"{field} is not a field", field=field)
    if kind == "missing":
        return InvalidArgument("api.field_missing", f"{field} is required", field=field)
    return InvalidArgument("api.field_invalid", f"{field}: {first['msg']}", field=field)


def error_response(request: Request, error: ZituiError) -> Response:
    status_code = http_status(error)
    # The code doubles as the message's i18n key; `{field}` names the field in the message.
    translated = lookup(request_locale(request), error.code)
    message = translated.replace("{field}", error.field or "") if translated else error.message
    body = ApiError(kind=error.kind, code=error.code, message=message, field=error.field)
    headers = {**NO_STORE, **CORS, **(retry_after(error) or {})}
    if status_code == 401:
        headers["WWW-Authenticate"] = challenge(error)
    content = body.model_dump(mode="json", by_alias=True, exclude_none=True)
    return JSONResponse(content, status_code=status_code, headers=headers)


def challenge(error: ZituiError) -> str:
    """RFC 6750 §3: no error code without a token (§3.1); RFC 9470 §3 when the sign-in behind
    the token is too old for the change asked."""
    if error.code == MISSING_TOKEN:
        return f'Bearer realm="{REALM}"'
    if isinstance(error, ReauthRequired):
        return f'Bearer realm="{REALM}", error="insufficient_user_authentication"'
    return f'Bearer realm="{REALM}", error="invalid_token"'
