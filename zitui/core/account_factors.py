"""The signed-in user's own second factors: TOTP, codes by email and SMS, security keys and
passkeys, their names, removal and the recovery codes.

The first factor a user adds brings ten recovery codes, returned once. Removing the last
factor while the login policy forces MFA is refused. A key registration started through the
account keeps its state server-side: a `user_codes` row of purpose `webauthn` (one per user,
a new start replaces it) holding a digest of the registration's id, the kind of key, and an
expiry of five minutes; the challenge is an HMAC of the user and that id, so the store holds
nothing the browser could replay. Finishing deletes the row first, in its own transaction, so
a registration is spent once whether the browser's answer is good or not.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from zitui.core.account_base import AccountBase, KeyRegistration
from zitui.core.audit import record
from zitui.core.context import Context
from zitui.core.credentials import login_policy
from zitui.core.crypto import tokens
from zitui.core.factors import MAX_NAME_LENGTH, FactorKind, TotpSetup
from zitui.core.ids import new_id
from zitui.core.login.factor_pages import addable, kind_not_offered, wrong_code
from zitui.core.login.second_factor import mfa_forced
from zitui.errors import InvalidArgument, NotFound, PreconditionFailed
from zitui.records import User
from zitui.store import Repositories
from zitui.store.repos.factors import READY

KEY_REGISTRATION = "webauthn"
KEY_REGISTRATION_LIFETIME = timedelta(minutes=5)
CREDENTIAL_WRITE = "user.credential.write"


class AccountFactors(AccountBase):
    async def start_totp(self, ctx: Context) -> TotpSetup:
        """A pending TOTP factor to confirm with a code; refused when the user has one."""
        self._require_recent(ctx)
        user = await self._myself(ctx, CREDENTIAL_WRITE)
        async with self._store.transaction() as tx:
            await self._require_addable(tx, user, FactorKind.TOTP)
            return await self._factors.start_totp(tx, ctx, user, issuer=self._issuer)

    async def confirm_totp(
        self, ctx: Context, factor_id: str, code: str, name: str = ""
    ) -> list[str]:
        """Make the pending TOTP factor ready ("" for the user's latest pending one, as
        ZITADEL's verify names none); the recovery codes when it is the first factor.
        A wrong code is counted against the user and raises InvalidArgument("mfa.code_invalid")."""
        user = await self._myself(ctx, CREDENTIAL_WRITE)
        await self._code_throttle.reserve(name=f"user:{user.id}", ip=ctx.request.ip)
        async with self._store.transaction() as tx:
            factor_id = factor_id or await _pending_totp(tx, user)
            first = not await self._factors.ready_factors(tx, user.id)
            confirmed = await self._factors.confirm_totp(tx, ctx, user, factor_id, code, name=name)
            codes = (
                await self._factors.new_recovery_codes(tx, ctx, user) if confirmed and first else []
            )
        if not confirmed:  # the failure was counted in the transaction above
            raise wrong_code()
        return codes

    async def add_otp(self, ctx: Context, kind: str) -> list[str]:
        """A factor of codes by email ("otp_email") or SMS ("otp_sms") to the verified address
        or number; the recovery codes when it is the first factor."""
        self._require_recent(ctx)
        factor_kind = _kind(kind)
        if factor_kind not in (FactorKind.OTP_EMAIL, FactorKind.OTP_SMS):
            raise _invalid_kind()
        user = await self._myself(ctx, CREDENTIAL_WRITE)
        async with self._store.transaction() as tx:
            first = not await self._factors.ready_factors(tx, user.id)
            await self._require_addable(tx, user, factor_kind)
            await self._otp.add(tx, ctx, user, factor_kind)
            return await self._factors.new_recovery_codes(tx, ctx, user) if first else []

    async def start_key_registration(self, ctx: Context, *, passkey: bool) -> KeyRegistration:
        """Options to register a passkey or a security key; the challenge stays server-side,
        for one use within five minutes (a new start replaces it)."""
        self._require_recent(ctx)
        kind = FactorKind.PASSKEY if passkey else FactorKind.U2F
        user = await self._myself(ctx, "user.passkey.write" if passkey else CREDENTIAL_WRITE)
        registration_id = new_id()
        async with self._store.transaction() as tx:
            await self._require_addable(tx, user, kind)
            existing = [f for f in await tx.factors.list_for_user(user.id) if f.credential_id]
            ceremony = self._webauthn.registration(
                user,
                existing,
                passkey=passkey,
                challenge=self._key_challenge(user, registration_id),
            )
            await tx.user_codes.put(
                user.id,
                KEY_REGISTRATION,
                digest=tokens.digest(registration_id),
                # The id is no secret (its challenge goes to the browser); kept so a finish
                # that names none (ZITADEL's verify) finds the pending registration.
                target=f"{kind.value}:{registration_id}",
                at=ctx.now(),
                expires_at=ctx.now() + KEY_REGISTRATION_LIFETIME,
                message_id=None,
            )
            await _record(tx, ctx, user, "user.human.webauthn.registration.started", kind=kind)
        return KeyRegistration(id=registration_id, options_json=ceremony.options_json)

    async def finish_key_registration(
        self,
        ctx: Context,
        registration_id: str,
        credential: str,
        name: str = "",
        *,
        passkey: bool | None = None,
    ) -> list[str]:
        """Verify the browser's answer to a started registration ("" for the user's pending
        one) and keep the key; the recovery codes when it is the first factor. `passkey`, when
        given, must match what was started. A registration is spent even when the answer is
        refused: a new try starts again."""
        user = await self._myself(ctx, CREDENTIAL_WRITE)
        async with self._store.transaction() as tx:
            stored = await tx.user_codes.find(user.id, KEY_REGISTRATION)
            kind_name, _, pending_id = (stored.target if stored else "").partition(":")
            registration_id = registration_id or pending_id
            kind = FactorKind.PASSKEY if kind_name == FactorKind.PASSKEY else FactorKind.U2F
            if (
                stored is None
                or not registration_id
                or not tokens.equal(stored.digest, tokens.digest(registration_id))
                or stored.expires_at <= ctx.now()
                or (passkey is not None and passkey is not (kind is FactorKind.PASSKEY))
                or not await tx.user_codes.delete(user.id, KEY_REGISTRATION)
            ):
                raise NotFound(
                    "webauthn.registration_not_found",
                    "this key registration is unknown, used or expired; start again",
                )
        async with self._store.transaction() as tx:
            first = not await self._factors.ready_factors(tx, user.id)
            await self._webauthn.finish_registration(
                tx,
                ctx,
                user,
                passkey=kind is FactorKind.PASSKEY,
                credential=credential,
                challenge=self._key_challenge(user, registration_id),
                name=name,
            )
            return await self._factors.new_recovery_codes(tx, ctx, user) if first else []

    async def rename_factor(self, ctx: Context, factor_id: str, name: str) -> None:
        """Give one of the user's ready factors a new name (1 to 200 characters)."""
        name = name.strip()
        if not name:
            raise InvalidArgument("factor.name.required", "give the factor a name", field="name")
        if len(name) > MAX_NAME_LENGTH:
            raise InvalidArgument("factor.name.too_long", "the name is too long", field="name")
        user = await self._myself(ctx, CREDENTIAL_WRITE)
        async with self._store.transaction() as tx:
            stored = await tx.factors.find(factor_id)
            if stored is None or not await tx.factors.rename(factor_id, user.id, name):
                raise _factor_not_found()
            await _record(
                tx,
                ctx,
                user,
                "user.human.factor.renamed",
                kind=FactorKind(stored.kind),
                factor_id=factor_id,
                name=name,
            )

    async def remove_factor(self, ctx: Context, factor_id: str) -> None:
        """Remove one of the user's factors; refused for the last one while MFA is forced.
        With the last factor gone, the recovery codes go too."""
        self._require_recent(ctx)
        user = await self._myself(ctx, CREDENTIAL_WRITE)
        async with self._store.transaction() as tx:
            ready = await self._factors.ready_factors(tx, user.id)
            others = [f for f in ready if f.id != factor_id]
            removes_last = len(others) < len(ready) and not others
            if removes_last and mfa_forced(await login_policy(tx, user.org_id)):
                raise last_factor_forced()
            await self._factors.remove_factor(tx, ctx, user, factor_id)
            if not others and await tx.factors.count_unused_recovery_codes(user.id):
                voided = await tx.factors.delete_recovery_codes(user.id)
                await record(
                    tx,
                    ctx,
                    "user.human.recovery_codes.removed",
                    aggregate=("user", user.id),
                    org_id=user.org_id,
                    payload={"count": voided},
                )

    async def remove_factor_kind(self, ctx: Context, kind: str) -> None:
        """Remove the user's one factor of `kind` ("totp", "otp_email", "otp_sms": ZITADEL's
        paths name no id); NotFound when there is none."""
        factor_kind = _kind(kind)
        if factor_kind not in (FactorKind.TOTP, FactorKind.OTP_EMAIL, FactorKind.OTP_SMS):
            raise _invalid_kind()
        user = await self._myself(ctx, CREDENTIAL_WRITE)
        async with self._store.reader() as tx:
            ready = await self._factors.ready_factors(tx, user.id)
        factor = next((f for f in ready if f.kind is factor_kind), None)
        if factor is None:
            raise _factor_not_found()
        await self.remove_factor(ctx, factor.id)

    async def regenerate_recovery_codes(self, ctx: Context) -> list[str]:
        """Ten new recovery codes in place of the old ones; refused without any factor."""
        self._require_recent(ctx)
        user = await self._myself(ctx, CREDENTIAL_WRITE)
        async with self._store.transaction() as tx:
            if not await self._factors.ready_factors(tx, user.id):
                raise PreconditionFailed(
                    "mfa.no_factor", "recovery codes stand in for a second factor: add one first"
                )
            return await self._factors.new_recovery_codes(tx, ctx, user)

    async def _require_addable(self, tx: Repositories, user: User, kind: FactorKind) -> None:
        """The policy offers `kind` to the user and they may add one more of it."""
        policy = await login_policy(tx, user.org_id)
        ready = await self._factors.ready_factors(tx, user.id)
        if kind.value in addable(user, policy, ready):
            return
        if any(f.kind is kind for f in ready):
            raise PreconditionFailed("factor.already_exists", f"you have a {kind} factor already")
        raise kind_not_offered()

    def _key_challenge(self, user: User, registration_id: str) -> bytes:
        message = f"account-key\0{user.id}\0{registration_id}".encode()
        return hmac.new(self._challenge_key, message, hashlib.sha256).digest()


def last_factor_forced() -> PreconditionFailed:
    return PreconditionFailed(
        "mfa.last_factor_forced",
        "a second factor is required here: add another before removing this one",
    )


def _kind(kind: str) -> FactorKind:
    try:
        return FactorKind(kind)
    except ValueError:
        raise _invalid_kind() from None


def _invalid_kind() -> InvalidArgument:
    return InvalidArgument(
        "factor.kind.invalid", "one-time passwords go by otp_email or otp_sms", field="kind"
    )


def _factor_not_found() -> NotFound:
    return NotFound("factor.not_found", "no such factor")


async def _record(
    tx: Repositories, ctx: Context, user: User, event_type: str, *, kind: FactorKind, **more: str
) -> None:
    await record(
        tx,
        ctx,
        event_type,
        aggregate=("user", user.id),
        org_id=user.org_id,
        payload={"kind": kind.value, **more},
    )


async def _pending_totp(tx: Repositories, user: User) -> str:
    """The id of the user's latest TOTP factor still waiting for its first code, or ""."""
    pending = [
        f
        for f in await tx.factors.list_for_user(user.id)
        if f.kind == FactorKind.TOTP and f.state != READY
    ]
    pending.sort(key=lambda f: f.created_at, reverse=True)
    return pending[0].id if pending else ""
