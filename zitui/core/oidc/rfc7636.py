"""Proof Key for Code Exchange (RFC 7636), S256 only.

§4.2-4.3: the challenge arrives with the authorization request; §4.5-4.6: the verifier with
the token request, and BASE64URL(SHA256(verifier)) must equal the challenge. `plain` is not
offered (discovery lists S256 alone): it protects nothing an attacker who sees the
authorization request cannot also see.
"""

from __future__ import annotations

import hmac
import re

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from zitui.core.oidc.errors import invalid_grant, invalid_request

S256 = "S256"
METHODS = (S256,)
# §4.1: 43 to 128 unreserved characters; an S256 challenge is 43 base64url characters.
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")


def checked_challenge(challenge: str, method: str) -> tuple[str, str]:
    """The challenge and its method from an authorization request, or ("", "")."""
    if not challenge:
        if method:
            raise invalid_request("code_challenge_method without code_challenge")
        return "", ""
    if (method or "plain") not in METHODS:
        raise invalid_request("code_challenge_method must be S256")
    if not _CHALLENGE.fullmatch(challenge):
        raise invalid_request("code_challenge must be 43 base64url characters (S256)")
    return challenge, S256


def verify(challenge: str, verifier: str) -> None:
    """§4.6, at the token endpoint; a verifier for a code without a challenge is refused too,
    so PKCE cannot be stripped from one side of the exchange."""
    if not challenge:
        if verifier:
            raise invalid_grant("this code was issued without a code_challenge")
        return
    if not verifier:
        raise invalid_grant("code_verifier is required")
    if not _VERIFIER.fullmatch(verifier):
        raise invalid_grant("code_verifier is malformed")
    if not hmac.compare_digest(create_s256_code_challenge(verifier), challenge):
        raise invalid_grant("code_verifier does not match the code_challenge")
