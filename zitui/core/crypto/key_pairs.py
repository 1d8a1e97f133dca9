"""RSA key pairs handed out once to machines and apps (ZITADEL's key files)."""

from __future__ import annotations

import asyncio

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_BITS = 2048  # ZITADEL's SystemDefaults.SecretGenerators.MachineKeySize


def _new_key_pair() -> tuple[str, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem.decode(), public_pem.decode()


async def new_key_pair() -> tuple[str, str]:
    """A PKCS#1 private PEM (`BEGIN RSA PRIVATE KEY`, as ZITADEL hands out) and its public PEM.

    Generated in a thread: an RSA key takes tens of milliseconds.
    """
    return await asyncio.to_thread(_new_key_pair)
