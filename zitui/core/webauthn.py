"""WebAuthn ceremonies: registering and checking security keys (U2F) and passkeys.

A security key is a second factor: no user verification, no discoverable credential. A passkey
signs in alone ("passwordless"), so it must verify the user (PIN, biometrics) and should be a
discoverable credential, which lets a browser offer it before anyone types a name
(https://www.w3.org/TR/webauthn-3/#client-side-discoverable-credential).

Discoverability is what the client says: `credProps.rk` among the client extension results
(https://www.w3.org/TR/webauthn-3/#sctn-authenticator-credential-properties-extension). It is
not signed, and older browsers leave it out; a passkey is refused only when the client says it
is not discoverable. Nothing the authenticator signs tells residency apart.

The caller keeps each ceremony's challenge server-side (the login flow's stored state) and
passes it back once; the services check and record inside the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    options_to_json_dict,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from zitui.core.audit import record
from zitui.core.clock import Clock
from zitui.core.context import Context
from zitui.core.factors import MAX_NAME_LENGTH, Factor, FactorKind, _factor
from zitui.core.ids import new_id
from zitui.core.webauthn_input import (
    MAX_CREDENTIAL_ID_BYTES,
    already_registered,
    authentication_credential,
    challenge_bytes,
    client_error,
    failed,
    new_challenge,
    origin_and_rp_id,
    registration_credential,
    says_not_discoverable,
    transports_of,
    unknown_credential,
)
from zitui.errors import InvalidArgument, PreconditionFailed
from zitui.records import User
from zitui.store import Repositories
from zitui.store.repos.factors import READY, StoredFactor

__all__ = ["Ceremony", "WebAuthnService", "client_error"]

TIMEOUT_MS = 120_000
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
DEFAULT_NAMES = {FactorKind.U2F: "Security key", FactorKind.PASSKEY: "Passkey"}
# ZITADEL's event names (its "passwordless" tokens are passkeys).
_EVENT_PREFIX = {
    FactorKind.U2F: "user.human.u2f.token",
    FactorKind.PASSKEY: "user.human.passwordless.token",
}


@dataclass(frozen=True)
class Ceremony:
    """Options for the browser's navigator.credentials call, and the challenge to keep."""

    options_json: str
    challenge: str


class WebAuthnService:
    """Options for the browser and checks of its answers, for one relying party: the host of
    the instance's external URL (no port), as the browser sees it."""

    def __init__(self, clock: Clock, *, origin: str, rp_name: str) -> None:
        self._clock = clock
        self.origin, self._rp_id = origin_and_rp_id(origin)
        self._rp_name = rp_name or "zitui"

    @property
    def rp_id(self) -> str:
        return self._rp_id

    def _require_rp(self) -> None:
        if not self._rp_id:
            raise PreconditionFailed(
                "webauthn.not_supported",
                "security keys and passkeys need an http(s) external URL with a host name",
            )

    def registration(
        self,
        user: User,
        existing: Sequence[Factor | StoredFactor],
        *,
        passkey: bool,
        challenge: bytes | None = None,
    ) -> Ceremony:
        """Options to create a credential: a passkey (discoverable, verifying the user) or a
        security key; the user's registered credentials are excluded. The challenge is
        random unless the caller derives its own (at least 16 bytes)."""
        requirement = (
            ResidentKeyRequirement.REQUIRED if passkey else ResidentKeyRequirement.DISCOURAGED
        )
        verification = _verification(passkey)
        self._require_rp()
        options = generate_registration_options(
            rp_id=self._rp_id,
            rp_name=self._rp_name,
            user_id=user.id.encode(),
            user_name=user.login_name or user.username,
            user_display_name=user.display_name or user.login_name or user.username,
            challenge=new_challenge(challenge),
            timeout=TIMEOUT_MS,
            attestation=AttestationConveyancePreference.NONE,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=requirement, user_verification=verification
            ),
            exclude_credentials=_descriptors(existing),
            supported_pub_key_algs=ALGORITHMS,
        )
        body = options_to_json_dict(options)
        if passkey:
            body["extensions"] = {"credProps": True}
        return Ceremony(options_json=json.dumps(body), challenge=str(body["challenge"]))

    def authentication(
        self,
        credentials: Sequence[Factor | StoredFactor],
        *,
        user_verification: bool,
        challenge: bytes | None = None,
    ) -> Ceremony:
        """Options to sign with one of `credentials`; none asks for a discoverable credential
        (a passkey sign-in without a name, and conditional mediation)."""
        self._require_rp()
        options = generate_authentication_options(
            rp_id=self._rp_id,
            challenge=new_challenge(challenge),
            timeout=TIMEOUT_MS,
            allow_credentials=_descriptors(credentials),
            user_verification=_verification(user_verification),
        )
        body = options_to_json_dict(options)
        return Ceremony(options_json=json.dumps(body), challenge=str(body["challenge"]))

    async def finish_registration(
        self,
        tx: Repositories,
        ctx: Context,
        user: User,
        *,
        passkey: bool,
        credential: str,
        challenge: str | bytes,
        name: str,
    ) -> Factor:
        """Verify the browser's answer to `registration` and store the credential as a ready
        factor of `user`. Attestation is not checked against vendors' roots: zitui asks for
        none, and any authenticator may register."""
        kind = FactorKind.PASSKEY if passkey else FactorKind.U2F
        name = _factor_name(name, kind)
        parsed, extensions = registration_credential(credential)
        try:
            verified = verify_registration_response(
                credential=parsed,
                expected_challenge=challenge_bytes(challenge),
                expected_rp_id=self._rp_id,
                expected_origin=self.origin,
                require_user_verification=passkey,
                supported_pub_key_algs=ALGORITHMS,
            )
        except Exception as exc:  # any failure of an untrusted response is a refusal
            raise failed() from exc
        if len(verified.credential_id) > MAX_CREDENTIAL_ID_BYTES:
            raise failed()  # WebAuthn §7.1: a credential id is at most 1023 bytes
        if passkey and says_not_discoverable(extensions):
            raise InvalidArgument(
                "webauthn.not_discoverable",
                "this authenticator cannot keep a passkey; add it as a security key",
                field="credential",
            )
        factor_id = new_id()
        stored = await tx.factors.insert_credential(
            factor_id,
            user.id,
            kind.value,
            name=name,
            credential_id=bytes_to_base64url(verified.credential_id),
            public_key=bytes_to_base64url(verified.credential_public_key),
            sign_count=verified.sign_count,
            transports=transports_of(parsed),
            at=ctx.now(),
        )
        if not stored:
            raise already_registered()
        await _record(tx, ctx, user, kind, "added", factor_id)
        return await _reload(tx, factor_id)

    async def check(
        self,
        tx: Repositories,
        ctx: Context,
        *,
        credential: str,
        challenge: str | bytes,
        user: User | None,
        kinds: Collection[FactorKind],
        user_verification: bool,
    ) -> Factor:
        """Verify the browser's answer to `authentication` and return the factor it proves.

        The factor must be ready, of one of `kinds`, and `user`'s (a passkey sign-in passes
        None and learns the user from the factor). A failed signature or a counter that did
        not move is recorded as a failed check in `tx` before the error is raised: catch the
        error inside the transaction to keep that record.
        """
        parsed = authentication_credential(credential)
        stored, owner = await self._known(tx, parsed, user, kinds)
        kind = FactorKind(stored.kind)
        try:
            verified = self._verify_assertion(parsed, stored, challenge, user_verification)
        except InvalidArgument:
            await _record(tx, ctx, owner, kind, "check.failed", stored.id, reason="verification")
            raise
        now = ctx.now()
        if not _counter_moved(stored.sign_count or 0, verified.new_sign_count) or not (
            await tx.factors.record_assertion(stored.id, sign_count=verified.new_sign_count, at=now)
        ):
            await _record(tx, ctx, owner, kind, "check.failed", stored.id, reason="counter")
            raise InvalidArgument(
                "webauthn.counter",
                "the authenticator's signature counter went back: it may have been copied",
                field="credential",
            )
        await _record(tx, ctx, owner, kind, "check.succeeded", stored.id)
        return await _reload(tx, stored.id)

    async def _known(
        self,
        tx: Repositories,
        parsed: AuthenticationCredential,
        user: User | None,
        kinds: Collection[FactorKind],
    ) -> tuple[StoredFactor, User]:
        """The ready factor of an allowed kind the credential names, and its owner."""
        stored = await tx.factors.find_by_credential_id(bytes_to_base64url(parsed.raw_id))
        if stored is None or stored.state != READY or stored.public_key is None:
            raise unknown_credential()
        if stored.kind not in {str(k) for k in kinds}:
            raise unknown_credential()
        if user is not None and stored.user_id != user.id:
            raise unknown_credential()
        handle = parsed.response.user_handle
        if handle is not None and handle != stored.user_id.encode():
            raise unknown_credential()
        owner = user if user is not None else await tx.users.find(stored.user_id)
        if owner is None:
            raise unknown_credential()
        return stored, owner

    def _verify_assertion(
        self,
        parsed: AuthenticationCredential,
        stored: StoredFactor,
        challenge: str | bytes,
        user_verification: bool,
    ) -> VerifiedAuthentication:
        try:
            return verify_authentication_response(
                credential=parsed,
                expected_challenge=challenge_bytes(challenge),
                expected_rp_id=self._rp_id,
                expected_origin=self.origin,
                credential_public_key=base64url_to_bytes(stored.public_key or ""),
                # The counter is compared after the signature (`_counter_moved`), so an
                # unsigned counter is never reported as a cloned authenticator.
                credential_current_sign_count=0,
                require_user_verification=user_verification,
            )
        except Exception as exc:  # any failure of an untrusted response is a refusal
            raise failed() from exc


def _verification(required: bool) -> UserVerificationRequirement:
    return (
        UserVerificationRequirement.REQUIRED
        if required
        else UserVerificationRequirement.DISCOURAGED
    )


def _descriptors(factors: Sequence[Factor | StoredFactor]) -> list[PublicKeyCredentialDescriptor]:
    known = {t.value for t in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(f.credential_id),
            transports=[AuthenticatorTransport(t) for t in f.transports if t in known] or None,
        )
        for f in factors
        if f.credential_id
    ]


def _factor_name(name: str, kind: FactorKind) -> str:
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidArgument("factor.name.too_long", "the name is too long", field="name")
    return name or DEFAULT_NAMES[kind]


def _counter_moved(stored: int, new: int) -> bool:
    """WebAuthn §6.1.1: once either counter is non-zero, each signature must count up;
    otherwise two authenticators hold the same key (a clone), or a response is replayed."""
    return (stored == 0 and new == 0) or new > stored


async def _record(
    tx: Repositories,
    ctx: Context,
    user: User,
    kind: FactorKind,
    what: str,
    factor_id: str,
    *,
    reason: str | None = None,
) -> None:
    payload = {"factor_id": factor_id} | ({"reason": reason} if reason else {})
    await record(
        tx,
        ctx,
        f"{_EVENT_PREFIX[kind]}.{what}",
        aggregate=("user", user.id),
        org_id=user.org_id,
        payload=payload,
    )


async def _reload(tx: Repositories, factor_id: str) -> Factor:
    stored = await tx.factors.find(factor_id)
    if stored is None:
        raise unknown_credential()
    return _factor(stored)
