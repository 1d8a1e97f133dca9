"""The rules a policy change must meet: kinds and their other names, and each field's values."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import fields, replace
from typing import Any
from urllib.parse import urlsplit

from zitui.core import validation
from zitui.core.policies import POLICY_KINDS
from zitui.errors import InvalidArgument

#: Names a blueprint or a screen may use for a kind; the stored kind is the value.
KIND_ALIASES = {
    "legal": "privacy",
    "password": "password_complexity",
    "password_policy": "password_complexity",
}
SECOND_FACTORS = ("otp", "u2f", "otp_email", "otp_sms")
MULTI_FACTORS = ("u2f_with_verification",)
LIFETIME_SUFFIX = "_lifetime"
MAX_LIFETIME_S = 3650 * 86400
_DURATION_PART = re.compile(r"(\d+)(d|h|m|s)")
_UNIT_S = {"d": 86400, "h": 3600, "m": 60, "s": 1}

Rule = Callable[[Any, str], Any]


def policy_kind(name: str) -> str:
    """The stored kind for `name` (a kind or one of its other names)."""
    kind = KIND_ALIASES.get(name, name)
    if kind not in POLICY_KINDS:
        raise InvalidArgument(
            "policy.kind.unknown",
            f"no policy kind {name!r}; use one of {', '.join(POLICY_KINDS)}",
            field="kind",
        )
    return kind


def field_names(kind: str) -> list[str]:
    return [f.name for f in fields(POLICY_KINDS[kind])]


def apply_changes(kind: str, current: Any, changes: Mapping[str, Any]) -> Any:
    """`current` with `changes` validated and applied; refuses unknown fields by name.

    The login policy's lifetimes are stored in seconds as `*_lifetime_s`; a change may name
    them without the suffix (`password_check_lifetime = "240h"`), as ZITADEL does.
    """
    return replace(current, **validated(kind, changes))


def validated(kind: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """`changes` checked field by field, keyed and typed as the policy stores them."""
    known = set(field_names(kind))
    values: dict[str, Any] = {}
    for key, value in changes.items():
        name = _stored_name(key, known)
        values[name] = _rule(kind, name)(value, key)
    return values


def file_keys(kind: str) -> list[str]:
    """The keys a blueprint or a form names a kind's fields by: the stored names, with the
    login policy's lifetimes without their `_s` (they take "240h" as well as seconds)."""
    suffix = f"{LIFETIME_SUFFIX}_s"
    return [
        name.removesuffix("_s") if name.endswith(suffix) else name for name in field_names(kind)
    ]


def parse_duration(value: object, *, field: str) -> int:
    """Seconds from an integer number of seconds or a duration such as "240h" or "1h30m"."""
    if isinstance(value, bool):
        raise _invalid(field, "a duration is seconds or text such as 240h, 30m or 18h")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and value.strip():
        text = value.strip().lower()
        if text.isdigit():
            seconds = int(text)
        else:
            parts = _DURATION_PART.findall(text)
            if "".join(n + u for n, u in parts) != text:
                raise _invalid(field, "a duration is seconds or text such as 240h, 30m or 18h")
            seconds = sum(int(n) * _UNIT_S[u] for n, u in parts)
    else:
        raise _invalid(field, "a duration is seconds or text such as 240h, 30m or 18h")
    if not 0 <= seconds <= MAX_LIFETIME_S:
        raise _invalid(field, "a duration is between 0 and 3650 days")
    return seconds


def format_duration(seconds: int) -> str:
    """The shortest of "240h", "30m", "45s" that states `seconds` exactly."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _stored_name(key: str, known: set[str]) -> str:
    if key in known:
        return key
    if key.endswith(LIFETIME_SUFFIX) and f"{key}_s" in known:
        return f"{key}_s"
    raise InvalidArgument("policy.field.unknown", f"the policy has no field {key!r}", field=key)


def _rule(kind: str, name: str) -> Rule:
    if name.endswith(f"{LIFETIME_SUFFIX}_s"):
        return lambda value, field: parse_duration(value, field=field)
    specific = _RULES.get(name)
    if specific is not None:
        return specific
    default = next(f.default for f in fields(POLICY_KINDS[kind]) if f.name == name)
    if isinstance(default, bool):
        return _boolean
    return _counter(0, 1_000_000)


def _boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid(field, "use true or false")
    return value


def _counter(low: int, high: int) -> Rule:
    def check(value: Any, field: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid(field, f"use a whole number from {low} to {high}")
        if not low <= value <= high:
            raise _invalid(field, f"use a whole number from {low} to {high}")
        return value

    return check


def _subset(allowed: tuple[str, ...]) -> Rule:
    def check(value: Any, field: str) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise _invalid(field, f"use a list of {', '.join(allowed)}")
        cleaned = [i.strip().lower() for i in items if i.strip()]
        unknown = [i for i in cleaned if i not in allowed]
        if unknown:
            raise _invalid(field, f"{unknown[0]!r} is not one of {', '.join(allowed)}")
        return tuple(dict.fromkeys(cleaned))

    return check


def _link(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise _invalid(field, "use an http or https address, or nothing")
    link = value.strip()
    if not link:
        return ""
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in link):
        raise _invalid(field, "use an http or https address, or nothing")
    if len(link) > 2000:
        raise _invalid(field, "the address is longer than 2000 characters")
    return link


def _email(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise _invalid(field, "this is not an email address")
    return validation.email(value, field=field)


def _label(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise _invalid(field, "use text")
    return validation.text(value, field=field, max_length=200, required=False)


def _invalid(field: str, message: str) -> InvalidArgument:
    return InvalidArgument(f"policy.{field}.invalid", f"{field}: {message}", field=field)


_RULES: dict[str, Rule] = {
    "min_length": _counter(1, 72),
    "max_password_attempts": _counter(0, 1000),
    "max_otp_attempts": _counter(0, 1000),
    "max_age_days": _counter(0, 36500),
    "expire_warn_days": _counter(0, 36500),
    "second_factors": _subset(SECOND_FACTORS),
    "multi_factors": _subset(MULTI_FACTORS),
    "default_redirect_uri": _link,
    "tos_link": _link,
    "privacy_link": _link,
    "help_link": _link,
    "docs_link": _link,
    "custom_link": _link,
    "support_email": _email,
    "custom_link_text": _label,
}
