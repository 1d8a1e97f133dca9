"""What browsers send in WebAuthn ceremonies, read without trusting it: credential JSON,
challenges, the origin a relying party is, the errors a page reports, and the error codes."""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlsplit

from webauthn.helpers import (
    base64url_to_bytes,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.structs import AuthenticationCredential, RegistrationCredential

from zitui.errors import InvalidArgument, PreconditionFailed

CHALLENGE_BYTES = 32
MIN_CHALLENGE_BYTES = 16  # https://www.w3.org/TR/webauthn-3/#sctn-cryptographic-challenges
# A registration response with a large RSA key and an attestation chain stays well below this.
MAX_CREDENTIAL_CHARS = 64 * 1024
# https://www.w3.org/TR/webauthn-3/#credential-id: at most 1023 bytes.
MAX_CREDENTIAL_ID_BYTES = 1023
# DOMException names a page posts when navigator.credentials failed in the browser.
_CLIENT_ERRORS = {
    "NotAllowedError": ("webauthn.cancelled", "the security key or passkey was not used"),
    "AbortError": ("webauthn.cancelled", "the security key or passkey was not used"),
    "InvalidStateError": (
        "webauthn.already_registered",
        "this authenticator is registered already",
    ),
    "SecurityError": ("webauthn.not_supported", "this address cannot use security keys"),
    "NotSupportedError": ("webauthn.not_supported", "this browser cannot use security keys"),
}


def client_error(name: str) -> InvalidArgument:
    """The error to show for a DOMException `name` the page reports instead of a credential."""
    code, message = _CLIENT_ERRORS.get(
        name, ("webauthn.client_error", "the browser could not use the security key or passkey")
    )
    return InvalidArgument(code, message, field="credential")


def origin_and_rp_id(url: str) -> tuple[str, str]:
    """The origin of `url` as a browser serialises it (default port left out), and its host;
    ("", "") when it is no http(s) URL with a host."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return "", ""
    try:
        port = parts.port
    except ValueError:
        return "", ""
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != {"http": 80, "https": 443}[parts.scheme]:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}", host


def loads(credential: str) -> dict[str, Any]:
    if len(credential) > MAX_CREDENTIAL_CHARS:
        raise invalid()
    try:
        body = json.loads(credential)
    except (ValueError, RecursionError) as exc:
        raise invalid() from exc
    if not isinstance(body, dict):
        raise invalid()
    return body


def registration_credential(credential: str) -> tuple[RegistrationCredential, dict[str, Any]]:
    """The parsed credential, and the client extension results it carries ({} when none)."""
    body = loads(credential)
    try:
        parsed = parse_registration_credential_json(body)
    except Exception as exc:  # malformed input of every kind: a clear 400, never a 500
        raise invalid() from exc
    extensions = body.get("clientExtensionResults")
    return parsed, extensions if isinstance(extensions, dict) else {}


def authentication_credential(credential: str) -> AuthenticationCredential:
    body = loads(credential)
    try:
        return parse_authentication_credential_json(body)
    except Exception as exc:  # malformed input of every kind: a clear 400, never a 500
        raise invalid() from exc


def says_not_discoverable(extensions: dict[str, Any]) -> bool:
    props = extensions.get("credProps")
    return isinstance(props, dict) and props.get("rk") is False


def transports_of(parsed: RegistrationCredential) -> list[str]:
    return sorted({t.value for t in parsed.response.transports or ()})


def new_challenge(given: bytes | None) -> bytes:
    if given is None:
        return secrets.token_bytes(CHALLENGE_BYTES)
    if len(given) < MIN_CHALLENGE_BYTES:
        raise ValueError("a WebAuthn challenge needs at least 16 random bytes")
    return given


def challenge_bytes(challenge: str | bytes) -> bytes:
    """The challenge as kept by the caller: bytes, or base64url as `Ceremony.challenge`."""
    if isinstance(challenge, bytes):
        return challenge
    try:
        return base64url_to_bytes(challenge)
    except ValueError as exc:
        raise failed() from exc


def invalid() -> InvalidArgument:
    return InvalidArgument(
        "webauthn.invalid", "this is not a security key's or passkey's answer", field="credential"
    )


def failed() -> InvalidArgument:
    return InvalidArgument(
        "webauthn.failed", "the security key or passkey could not be verified", field="credential"
    )


def unknown_credential() -> InvalidArgument:
    return InvalidArgument(
        "webauthn.unknown_credential",
        "this security key or passkey is not registered here",
        field="credential",
    )


def already_registered() -> PreconditionFailed:
    return PreconditionFailed(
        "webauthn.already_registered", "this security key or passkey is registered already"
    )
