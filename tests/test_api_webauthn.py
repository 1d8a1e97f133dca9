"""Security keys and passkeys registered through the account API, answered by a software
authenticator: a real P-256 key pair, a real `none` attestation over the options the API
gave out, verified by the server as a browser's answer would be."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from typing import Any
from urllib.parse import urlsplit

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec

from tests import oidc_fixtures as fx
from tests.api_fixtures import api_tokens, bearer
from tests.oidc_fixtures import Harness, World
from zitui.server.api.routes import FACTORS, ME, PASSWORDLESS

clock, harness, world = fx.clock, fx.harness, fx.world
# User present, user verified, attested credential data included (WebAuthn §6.1).
FLAGS = 0x01 | 0x04 | 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def software_key_answer(options: dict[str, Any], *, origin: str) -> dict[str, Any]:
    """The RegistrationResponseJSON an authenticator with a fresh P-256 key would give."""
    key = ec.generate_private_key(ec.SECP256R1())
    numbers = key.public_key().public_numbers()
    cose = {
        1: 2,
        3: -7,
        -1: 1,
        -2: numbers.x.to_bytes(32, "big"),
        -3: numbers.y.to_bytes(32, "big"),
    }
    credential_id = secrets.token_bytes(32)
    rp_id = options["rp"].get("id") or urlsplit(origin).hostname or ""
    auth_data = (
        hashlib.sha256(rp_id.encode()).digest()
        + bytes([FLAGS])
        + struct.pack(">I", 0)
        + bytes(16)  # AAGUID
        + struct.pack(">H", len(credential_id))
        + credential_id
        + cbor2.dumps(cose)
    )
    client_data = {"type": "webauthn.create", "challenge": options["challenge"], "origin": origin}
    attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
    return {
        "id": b64url(credential_id),
        "rawId": b64url(credential_id),
        "type": "public-key",
        "response": {
            "clientDataJSON": b64url(json.dumps(client_data).encode()),
            "attestationObject": b64url(attestation),
            "transports": ["usb"],
        },
        "clientExtensionResults": {},
        "authenticatorAttachment": "cross-platform",
    }


async def register(harness: Harness, token: str, start: str, finish: str, name: str) -> Any:
    headers = bearer(token)
    started = await harness.http.post(start, json={}, headers=headers)
    assert started.status_code == 200, started.text
    key = started.json()["key"]
    options = json.loads(base64.b64decode(key["publicKey"]))
    answer = software_key_answer(options, origin=harness.issuer)
    body = {
        "verification": {"publicKeyCredential": answer, "tokenName": name},
        "registrationId": key["id"],
    }
    done = await harness.http.post(finish, json=body, headers=headers)
    assert done.status_code == 200, done.text
    return done.json()


async def test_a_security_key_and_a_passkey_register_and_are_removed(
    harness: Harness, world: World
) -> None:
    token = (await api_tokens(harness, world.clients["basic"], world.alice))["access_token"]
    first = await register(harness, token, f"{FACTORS}/u2f", f"{FACTORS}/u2f/_verify", "YubiKey")
    assert len(first["recoveryCodes"]) >= 8  # the user's first factor
    listed = await harness.http.post(f"{FACTORS}/_search", json={}, headers=bearer(token))
    [key] = listed.json()["result"]
    assert (key["kind"], key["name"], key["u2f"]["name"]) == ("u2f", "YubiKey", "YubiKey")
    second = await register(
        harness, token, PASSWORDLESS, f"{PASSWORDLESS}/_verify", "Laptop passkey"
    )
    assert second["recoveryCodes"] == []  # not the first factor any more
    passkeys = await harness.http.post(f"{PASSWORDLESS}/_search", json={}, headers=bearer(token))
    [passkey] = passkeys.json()["result"]
    assert passkey["name"] == "Laptop passkey"
    removed = await harness.http.delete(f"{PASSWORDLESS}/{passkey['id']}", headers=bearer(token))
    assert removed.status_code == 200, removed.text
    removed = await harness.http.delete(f"{FACTORS}/u2f/{key['id']}", headers=bearer(token))
    assert removed.status_code == 200, removed.text
    me = await harness.http.get(ME, headers=bearer(token))
    assert me.json()["recoveryCodesLeft"] >= 0
    listed = await harness.http.post(f"{FACTORS}/_search", json={}, headers=bearer(token))
    assert listed.json()["result"] == []


async def test_a_registration_is_single_use(harness: Harness, world: World) -> None:
    token = (await api_tokens(harness, world.clients["basic"], world.alice))["access_token"]
    started = await harness.http.post(f"{FACTORS}/u2f", json={}, headers=bearer(token))
    key = started.json()["key"]
    options = json.loads(base64.b64decode(key["publicKey"]))
    answer = software_key_answer(options, origin="https://evil.example")
    body = {"verification": {"publicKeyCredential": answer}, "registrationId": key["id"]}
    refused = await harness.http.post(f"{FACTORS}/u2f/_verify", json=body, headers=bearer(token))
    assert refused.status_code == 400, refused.text
    again = software_key_answer(options, origin=harness.issuer)
    body["verification"]["publicKeyCredential"] = again
    spent = await harness.http.post(f"{FACTORS}/u2f/_verify", json=body, headers=bearer(token))
    assert spent.status_code == 404
    assert spent.json()["code"] == "webauthn.registration_not_found"
