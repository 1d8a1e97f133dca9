"""Input rules shared by the services; each failure names the offending field."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from datetime import datetime

from zitui.errors import InvalidArgument

_USERNAME = re.compile(r"^[A-Za-z0-9._@+-]{1,200}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_DOMAIN_LABEL = re.compile(r"[^a-z0-9-]+")
_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PHONE = re.compile(r"^\+?[0-9]{4,20}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
MAX_PAGE = 500


def text(value: str, *, field: str, max_length: int = 200, required: bool = True) -> str:
    cleaned = " ".join(value.split())
    if required and not cleaned:
        raise InvalidArgument(
            f"{field}.required", f"{field.replace('_', ' ')} is required", field=field
        )
    if len(cleaned) > max_length:
        raise InvalidArgument(
            f"{field}.too_long",
            f"{field.replace('_', ' ')} is longer than {max_length} characters",
            field=field,
        )
    if any(unicodedata.category(c) == "Cc" for c in cleaned):
        raise InvalidArgument(f"{field}.invalid", f"{field} has control characters", field=field)
    return cleaned


def username(value: str) -> str:
    value = value.strip()
    if not _USERNAME.match(value):
        raise InvalidArgument(
            "username.invalid",
            "usernames use letters, digits and . _ @ + - (1 to 200 characters)",
            field="username",
        )
    return value


def email(value: str, *, required: bool = False, field: str = "email") -> str:
    value = value.strip()
    if not value and not required:
        return ""
    if not _EMAIL.match(value) or len(value) > 320:
        raise InvalidArgument(f"{field}.invalid", "this is not an email address", field=field)
    return value


def org_domain_label(name: str) -> str:
    """The DNS label ZITADEL derives from an organisation's name for its generated domain."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    label = _DOMAIN_LABEL.sub("-", ascii_name).strip("-")[:63].strip("-")
    return label or "org"


def page(offset: int, limit: int) -> tuple[int, int]:
    if offset < 0:
        raise InvalidArgument("page.offset", "offset cannot be negative", field="offset")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidArgument("page.limit", f"limit must be 1 to {MAX_PAGE}", field="limit")
    return offset, limit


def domain(value: str, *, field: str = "domain") -> str:
    """A DNS name of at least two labels, lower-cased, without a trailing dot."""
    name = value.strip().lower().removesuffix(".")
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_DNS_LABEL.match(lb) for lb in labels):
        raise InvalidArgument(
            f"{field}.invalid",
            "use a DNS name such as login.example.com (letters, digits and -, in ASCII)",
            field=field,
        )
    return name


def host(value: str, *, field: str = "host") -> str:
    """A host name (one label is enough, e.g. `mailhog`) or an IP address."""
    name = value.strip().lower().removesuffix(".")
    if not name or len(name) > 253 or not all(_DNS_LABEL.match(lb) for lb in name.split(".")):
        raise InvalidArgument(f"{field}.invalid", "this is not a host name", field=field)
    return name


def phone(value: str) -> str:
    """A phone number in international digits; spaces, dashes, dots and brackets are dropped."""
    cleaned = re.sub(r"[\s\-().]", "", value)
    if not _PHONE.match(cleaned):
        raise InvalidArgument(
            "phone.invalid", "use a phone number such as +41 44 123 45 67", field="phone"
        )
    return cleaned


def language(value: str) -> str:
    value = value.strip()
    if value and not _LANGUAGE.match(value):
        raise InvalidArgument(
            "preferred_language.invalid",
            "use a language tag such as en or de-CH",
            field="preferred_language",
        )
    return value


def choice(value: str, allowed: Collection[str], *, field: str) -> str:
    value = value.strip().lower()
    if value not in allowed:
        options = ", ".join(repr(a) for a in sorted(allowed))
        raise InvalidArgument(f"{field}.invalid", f"{field} must be one of {options}", field=field)
    return value


def expiry(value: datetime | None, *, now: datetime, field: str = "expires_at") -> datetime | None:
    """An optional expiry that lies in the future; naive datetimes are refused."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidArgument(f"{field}.naive", "give the expiry with a time zone", field=field)
    if value <= now:
        raise InvalidArgument(f"{field}.past", "the expiry must lie in the future", field=field)
    return value
