"""JWTs that arrive from clients (RFC 7519, as compact JWS of RFC 7515 §7.1), read without
trusting their shape.

Assertions, bearer tokens and ID token hints come from anyone. joserfc assumes that a
protected header is a JSON object and that its `crit` is a list of names (RFC 7515 §4.1.11),
and Python's `json` reads `NaN`, `Infinity` and nesting deep enough to exhaust the stack. So
every such value is checked here first, and anything malformed is `Malformed` (a ValueError),
never an exception the server did not expect.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

MAX_LENGTH = 8192
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")  # base64url without padding (RFC 7515 §2)
# NumericDate (RFC 7519 §2) values beyond the year 9999 are not dates any clock will reach.
MAX_NUMERIC_DATE = 253402300799


class Malformed(ValueError):
    """The value is not a compact JWS with a JSON object header and JSON object claims."""


@dataclass(frozen=True)
class Unverified:
    """A compact JWS's header and claims, parsed but not verified: nothing in it is trusted."""

    header: dict[str, Any]
    claims: dict[str, Any]


def parse(token: str) -> Unverified:
    """The header and claims of a compact JWS, or Malformed; the signature is not checked."""
    parts = token.split(".") if len(token) <= MAX_LENGTH else []
    if len(parts) != 3:
        raise Malformed("not a compact JWS")
    header = _json_object(parts[0])
    crit = header.get("crit")
    if "crit" in header and (
        not isinstance(crit, list) or not crit or not all(isinstance(n, str) for n in crit)
    ):
        raise Malformed("crit must be a non-empty list of header names")  # RFC 7515 §4.1.11
    if not isinstance(header.get("alg"), str):
        raise Malformed("the header needs an alg")
    return Unverified(header=header, claims=_json_object(parts[1]))


def signed_by(token: str, key: RSAKey, *, algorithms: Iterable[str]) -> bool:
    """Whether `token` (well-formed, see `parse`) carries a valid signature by `key`."""
    try:
        parse(token)
        jws.deserialize_compact(token, key, algorithms=list(algorithms))
    except (JoseError, ValueError):
        return False
    return True


def decode(token: str, keys: KeySet, *, algorithms: Iterable[str]) -> dict[str, Any] | None:
    """The claims of a JWT signed with one of `keys`; None for anything else."""
    try:
        unverified = parse(token)
        jws.deserialize_compact(token, keys, algorithms=list(algorithms))
    except (JoseError, ValueError):
        return None
    return unverified.claims


def numeric_date(value: object) -> float | None:
    """A NumericDate (RFC 7519 §2) in seconds; None for anything else: strings, booleans,
    NaN, infinities and numbers no date reaches."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if not -MAX_NUMERIC_DATE <= value <= MAX_NUMERIC_DATE:
        return None
    return float(value)


def _json_object(segment: str) -> dict[str, Any]:
    if not _SEGMENT.fullmatch(segment):
        raise Malformed("a segment is not base64url")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise Malformed("a segment is not base64url-encoded JSON") from exc
    if not isinstance(value, dict):
        raise Malformed("a segment is not a JSON object")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # RFC 8259 §6 has no NaN or Infinity
