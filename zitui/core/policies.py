"""Policies with ZITADEL's defaults, and the checks they impose."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

from zitui.core.common_passwords import is_common
from zitui.errors import InvalidArgument

HOUR = 3600


@dataclass(frozen=True)
class LoginPolicy:
    allow_username_password: bool = True
    allow_register: bool = True
    allow_external_idp: bool = True
    force_mfa: bool = False
    force_mfa_local_only: bool = False
    passwordless_allowed: bool = True
    hide_password_reset: bool = False
    ignore_unknown_usernames: bool = False
    allow_domain_discovery: bool = True
    disable_login_with_email: bool = False
    disable_login_with_phone: bool = False
    # Users may delete their own account from the account pages (off by default, as ZITADEL).
    allow_self_delete: bool = False
    default_redirect_uri: str = ""
    password_check_lifetime_s: int = 240 * HOUR
    external_login_check_lifetime_s: int = 240 * HOUR
    mfa_init_skip_lifetime_s: int = 720 * HOUR
    second_factor_check_lifetime_s: int = 18 * HOUR
    multi_factor_check_lifetime_s: int = 12 * HOUR
    second_factors: tuple[str, ...] = ("otp", "u2f")
    multi_factors: tuple[str, ...] = ("u2f_with_verification",)


@dataclass(frozen=True)
class PasswordComplexityPolicy:
    min_length: int = 8
    has_lowercase: bool = True
    has_uppercase: bool = True
    has_number: bool = True
    has_symbol: bool = True
    refuse_common: bool = True

    def check(self, password: str, *, field: str = "password") -> None:
        """Raise InvalidArgument naming the first rule `password` breaks.

        The common-password rule comes last, so a password that is short or lacks a class
        of character is told that first, and only the list lookup remains for one that
        meets every other rule.
        """
        rules = [
            (
                len(password) >= self.min_length,
                "password.too_short",
                f"use at least {self.min_length} characters",
            ),
            (
                not self.has_lowercase or any(c.islower() for c in password),
                "password.needs_lowercase",
                "add a lower-case letter",
            ),
            (
                not self.has_uppercase or any(c.isupper() for c in password),
                "password.needs_uppercase",
                "add an upper-case letter",
            ),
            (
                not self.has_number or any(c.isdigit() for c in password),
                "password.needs_number",
                "add a digit",
            ),
            (
                not self.has_symbol or any(not c.isalnum() for c in password),
                "password.needs_symbol",
                "add a symbol",
            ),
        ]
        for ok, code, message in rules:
            if not ok:
                raise InvalidArgument(code, f"password too weak: {message}", field=field)
        if self.refuse_common and is_common(password):
            raise InvalidArgument(
                "password.common", "this password is too common; choose another", field=field
            )


@dataclass(frozen=True)
class PasswordAgePolicy:
    """How old a password may grow; 0 days means it never expires."""

    max_age_days: int = 0
    expire_warn_days: int = 0


@dataclass(frozen=True)
class LockoutPolicy:
    max_password_attempts: int = 0
    max_otp_attempts: int = 0
    show_lockout_failures: bool = True


@dataclass(frozen=True)
class PrivacyPolicy:
    """The legal links shown on hosted pages."""

    tos_link: str = ""
    privacy_link: str = ""
    help_link: str = ""
    support_email: str = ""
    docs_link: str = ""
    custom_link: str = ""
    custom_link_text: str = ""


@dataclass(frozen=True)
class DomainPolicy:
    user_login_must_be_domain: bool = False
    validate_org_domains: bool = False
    smtp_sender_address_matches_instance_domain: bool = False


@dataclass(frozen=True)
class NotificationPolicy:
    """Which mails are sent beyond the ones a flow needs."""

    password_change: bool = False


POLICY_KINDS: dict[str, type] = {
    "login": LoginPolicy,
    "password_complexity": PasswordComplexityPolicy,
    "password_age": PasswordAgePolicy,
    "lockout": LockoutPolicy,
    "privacy": PrivacyPolicy,
    "domain": DomainPolicy,
    "notification": NotificationPolicy,
}

P = TypeVar("P")


def kind_of(policy_type: type) -> str:
    return next(kind for kind, cls in POLICY_KINDS.items() if cls is policy_type)


def to_settings(policy: Any) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(policy).items()}


def from_settings(policy_type: type[P], settings: dict[str, Any] | None) -> P:
    """Build a policy from stored settings; missing keys take the default, unknown are ignored."""
    if settings is None:
        return policy_type()
    known = {f.name for f in fields(policy_type)}  # type: ignore[arg-type]
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items() if k in known}
    try:
        return policy_type(**values)
    except TypeError as exc:
        raise InvalidArgument("policy.invalid", f"stored policy is invalid: {exc}") from exc
