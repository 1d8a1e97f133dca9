"""Input rules shared by the services; each failure names the offending field."""

from __future__ import annotations

import re
import unicodedata

from zitui.errors import InvalidArgument

_USERNAME = re.compile(r"^[A-Za-z0-9._@+-]{1,200}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_DOMAIN_LABEL = re.compile(r"[^a-z0-9-]+")
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


def email(value: str, *, required: bool = False) -> str:
    value = value.strip()
    if not value and not required:
        return ""
    if not _EMAIL.match(value) or len(value) > 320:
        raise InvalidArgument("email.invalid", "this is not an email address", field="email")
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
