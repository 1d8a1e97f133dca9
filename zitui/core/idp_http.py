"""HTTP to external identity providers (httpx2): JSON documents read with a size cap and a
timeout, and the rule for which URLs zitui follows at all.

A provider that cannot be reached, times out, fails (5xx) or answers a successful request
with something other than JSON becomes UpstreamUnavailable `idp.unreachable`, whatever the
cause: the login shows it as the provider's failure, not the user's.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx2

from zitui.core.idps import loopback
from zitui.errors import UpstreamUnavailable

MAX_BODY = 512 * 1024


def safe_url(url: object) -> bool:
    """An https URL, or http to this machine's loopback (development and tests)."""
    if not isinstance(url, str) or len(url) > 2000:
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if not host or parts.username or parts.fragment:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and loopback(host))


def unreachable() -> UpstreamUnavailable:
    return UpstreamUnavailable(
        "idp.unreachable", "the identity provider could not be reached or answered in error"
    )


async def get_json(
    url: str, *, timeout_s: float, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """The status and JSON body of a GET. A 4xx answer comes back with its body parsed
    (None when it is not JSON), so the caller can tell a refusal from a failure."""
    try:
        async with (
            httpx2.AsyncClient(timeout=timeout_s, trust_env=False) as http,
            http.stream("GET", url, headers={"Accept": "application/json", **(headers or {})}) as r,
        ):
            body = await _read_capped(r)
            status = r.status_code
    except httpx2.HTTPError as exc:
        raise unreachable() from exc
    if status >= 500 or status < 200 or 300 <= status < 400:
        raise unreachable()
    parsed = parse_json(body)
    if status < 300 and parsed is None:
        raise unreachable()
    return status, parsed


def parse_json(body: bytes) -> Any:
    """The JSON value of `body`; None when it is not JSON (NaN, Infinity and nesting that
    exhausts the stack included)."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return None


async def _read_capped(response: httpx2.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_BODY:
            raise unreachable()
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
