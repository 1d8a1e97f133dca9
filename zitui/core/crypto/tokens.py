"""Random tokens, their digests, and generated codes and passwords."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

_SYMBOLS = "!#$%&*+-.:=?@_"


def random_token(nbytes: int = 32) -> str:
    """A URL-safe token with `nbytes` of entropy."""
    return secrets.token_urlsafe(nbytes)


def digest(token: str) -> str:
    """SHA-256 of a high-entropy token; what the store keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def numeric_code(length: int = 6) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(length))


def code(length: int = 8, alphabet: str = string.ascii_uppercase + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def generated_password(length: int = 20) -> str:
    """A password with every character class, so any complexity policy accepts it."""
    classes = [string.ascii_lowercase, string.ascii_uppercase, string.digits, _SYMBOLS]
    chars = [secrets.choice(c) for c in classes]
    pool = "".join(classes)
    chars += [secrets.choice(pool) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)
