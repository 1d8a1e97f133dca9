"""Authentication context classes: the `acr_values` a request may ask for (OIDC Core §3.1.2.1)
and the `acr` claim of the ID token (§2).

zitui knows two classes, weakest first: `pwd`, one factor (a password, or a passkey), and `mfa`,
several factors (a password and a second factor, or a passkey, whose user verification makes
it multi-factor on its own). Their names are those of the matching RFC 8176 `amr` values, so a
session's `amr` tells which classes it satisfies. A request's `acr_values` lists classes in the
client's order of preference; the first one zitui knows is the one the sign-in must meet
(`requested`), and unknown values are ignored. The ID token carries `acr` only when the request
asked for classes zitui knows: the strongest of them that the sign-in satisfied (`claim`).
"""

from __future__ import annotations

from collections.abc import Iterable

PWD = "pwd"
MFA = "mfa"
# Weakest first; discovery's `acr_values_supported`.
SUPPORTED = (PWD, MFA)


def requested(acr_values: Iterable[str]) -> str:
    """The class the sign-in must meet: the first of `acr_values` zitui knows, or ""."""
    return next((value for value in acr_values if value in SUPPORTED), "")


def needs_mfa(acr: str) -> bool:
    """The class asks for more than one factor."""
    return acr == MFA


def satisfied(amr: Iterable[str], *, signed_in: bool = False) -> tuple[str, ...]:
    """The classes a sign-in with these RFC 8176 methods satisfies, weakest first.

    `signed_in`: a factor was proven even where `amr` names none (a sign-in at an external
    provider, which RFC 8176 has no value for): one factor at least."""
    methods = set(amr)
    if not methods and not signed_in:
        return ()
    return SUPPORTED if MFA in methods else (PWD,)


def claim(acr_values: Iterable[str], amr: Iterable[str], *, signed_in: bool = False) -> str:
    """The ID token's `acr`: the strongest asked class the sign-in satisfied, or "" (no claim)
    when the request asked for none that zitui knows."""
    asked = set(acr_values)
    met = [value for value in satisfied(amr, signed_in=signed_in) if value in asked]
    return met[-1] if met else ""
