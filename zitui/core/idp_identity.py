"""Who an external identity provider says signed in: `ExternalIdentity`, read from an ID
token's or a userinfo answer's claims through the provider kind's claim names.

Provider answers are untrusted input: only strings (and the provider's own true/false
flags) are taken, trimmed and cut to a length; anything else counts as not said.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from zitui.core.idp_templates import template_of
from zitui.records import IdentityProvider, IdpType

MAX_ID = 255
MAX_TEXT = 320
# BCP 47 as zitui stores it (`en`, `de-CH`); OpenID's `locale` may use `_` (`en_US`).
_LANGUAGE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,4}$")
_FLAGS = ("email_verified", "phone_verified")


@dataclass(frozen=True)
class ExternalIdentity:
    """A user as an external provider describes them. `external_id` is the provider's
    stable id (OpenID Connect: `sub`); the rest pre-fills a profile. `email_verified` is
    true only when the provider says so."""

    idp_id: str
    external_id: str
    username: str = ""
    email: str = ""
    email_verified: bool = False
    given_name: str = ""
    family_name: str = ""
    display_name: str = ""
    nickname: str = ""
    language: str = ""
    phone: str = ""
    phone_verified: bool = False

    def to_json(self) -> dict[str, object]:
        """For a login flow's internal data; `from_json` reads it back."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: object) -> ExternalIdentity | None:
        """The identity `to_json` wrote; None for anything malformed."""
        if not isinstance(data, dict):
            return None
        values: dict[str, Any] = {}
        for item in fields(cls):
            if item.name not in data:
                continue
            value = data[item.name]
            wanted = bool if item.name in _FLAGS else str
            if type(value) is not wanted:
                return None
            values[item.name] = value
        if not values.get("idp_id") or not values.get("external_id"):
            return None
        return cls(**values)


def identity_from_claims(
    idp: IdentityProvider, external_id: str, claims: Mapping[str, Any]
) -> ExternalIdentity:
    """Map `claims` to our fields with the kind's claim names (`Template.claims`).

    An email counts as verified when the provider's claim says so (`true` or Apple's
    `"true"`), when the kind's template trusts its emails, or for Entra ID when the
    manager set `extra["email_verified"]` to `"true"` (Entra sends no such claim)."""
    template = template_of(idp.type)
    names = template.claims

    def text(field: str, limit: int = MAX_TEXT) -> str:
        value = claims.get(names.get(field, ""))
        return value.strip()[:limit] if isinstance(value, str) else ""

    def flag(field: str) -> bool:
        value = claims.get(names.get(field, ""))
        return value is True or value == "true"

    email = text("email")
    email_verified = flag("email_verified") or template.emails_verified
    if idp.type is IdpType.AZURE:
        email_verified = idp.extra.get("email_verified") == "true"
    phone = text("phone", 40)
    return ExternalIdentity(
        idp_id=idp.id,
        external_id=external_id,
        username=text("username", 200),
        email=email,
        email_verified=bool(email) and email_verified,
        given_name=text("given_name", 200),
        family_name=text("family_name", 200),
        display_name=text("display_name", 200),
        nickname=text("nickname", 200),
        language=language_tag(text("language", 40)),
        phone=phone,
        phone_verified=bool(phone) and flag("phone_verified"),
    )


def language_tag(locale: str) -> str:
    """A BCP 47 tag from an OpenID `locale` (`en_US` -> `en-US`); "" when it is none."""
    tag = locale.strip().replace("_", "-")
    return tag if _LANGUAGE.match(tag) else ""


def attribute(claims: Mapping[str, Any], name: str) -> object:
    """`claims[name]`, or the nested value for a dotted name (`data.user.id`) when the
    provider has no attribute of that exact name."""
    if name in claims:
        return claims[name]
    value: object = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def external_id_of(value: object) -> str:
    """A provider's id attribute as text: strings and integers (GitHub's ids are numbers);
    "" for anything else, or for ids too long to be one."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or len(value) > MAX_ID or not value.strip():
        return ""
    return value
