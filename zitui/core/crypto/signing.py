"""RS256 signing keys: generated here, private half encrypted under the master key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from joserfc.jwk import RSAKey

from zitui.core.crypto.masterkey import MasterKey
from zitui.core.ids import new_id
from zitui.records import SigningKey

ALG = "RS256"


def _purpose(kid: str) -> str:
    return f"signing_key:{kid}"


def new_signing_key(master_key: MasterKey, *, now: datetime, lifetime: timedelta) -> SigningKey:
    kid = new_id()
    key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": ALG}, private=True)
    return SigningKey(
        kid=kid,
        alg=ALG,
        public_jwk=dict(key.as_dict(private=False)),
        private_key_enc=master_key.encrypt(key.as_pem(private=True), purpose=_purpose(kid)),
        created_at=now,
        expires_at=now + lifetime,
    )


@dataclass(frozen=True)
class PrivateSigningKey:
    kid: str
    key: RSAKey


def open_signing_key(master_key: MasterKey, stored: SigningKey) -> PrivateSigningKey:
    pem = master_key.decrypt(stored.private_key_enc, purpose=_purpose(stored.kid))
    key = RSAKey.import_key(pem, parameters={"kid": stored.kid, "use": "sig", "alg": ALG})
    return PrivateSigningKey(kid=stored.kid, key=key)
