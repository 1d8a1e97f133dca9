"""Second factors of users: TOTP set-up and checks, recovery codes, and removal.

A TOTP factor starts pending with a fresh secret (kept encrypted under the master key, bound
to the factor's id) and becomes ready when the user types a code from it. A check accepts
the codes of the current time step and one step either side (RFC 6238 §5.2), and never a step
at or before the last one it accepted (§5.2: a code is used once). Recovery codes are ten
random codes kept as HMACs keyed from the master key; each stands in for a second factor once.

Wrong codes count against the user with the codes sent by mail
(`otp_failures.count_code_failure`, the lockout policy's `max_otp_attempts`).

The login flow calls these methods inside its own transaction once it knows who the user is,
so they take the transaction and check no permission; the flow decides whose factors they are.
Managers use the three that take a context and a user id (`authenticators`,
`remove_authenticator`, `remove_recovery_codes`), which check their permission.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import pyotp
import segno

from zitui.core.audit import record
from zitui.core.authz import Authorizer
from zitui.core.clock import Clock
from zitui.core.context import Context
from zitui.core.crypto import tokens
from zitui.core.crypto.masterkey import MasterKey
from zitui.core.ids import new_id
from zitui.core.otp_failures import count_code_failure
from zitui.core.permissions import Resource
from zitui.core.user_base import load_human, load_user
from zitui.errors import InvalidArgument, NotFound, PreconditionFailed
from zitui.records import User, UserKind
from zitui.store import Repositories, Store
from zitui.store.repos.factors import READY, StoredFactor

TOTP_PERIOD_S = 30
TOTP_DIGITS = 6
# ±1 time step: a phone's clock a little off, or a code typed as it turned over.
TOTP_WINDOW = 1
MAX_NAME_LENGTH = 200

RECOVERY_CODE_COUNT = 10
# Capitals and digits without the look-alikes 0/O, 1/I/L, 5/S, 8/B: 26 characters.
RECOVERY_ALPHABET = "ACDEFGHJKMNPQRTUVWXYZ234679"
RECOVERY_GROUP = 5
RECOVERY_GROUPS = 2


class FactorKind(StrEnum):
    TOTP = "totp"
    OTP_EMAIL = "otp_email"
    OTP_SMS = "otp_sms"
    U2F = "u2f"
    PASSKEY = "passkey"


# ZITADEL's event names for a removed factor of each kind.
_REMOVED_EVENTS = {
    FactorKind.TOTP: "user.human.mfa.otp.removed",
    FactorKind.OTP_EMAIL: "user.human.otp.email.removed",
    FactorKind.OTP_SMS: "user.human.otp.sms.removed",
    FactorKind.U2F: "user.human.u2f.token.removed",
    FactorKind.PASSKEY: "user.human.passwordless.token.removed",
}


@dataclass(frozen=True)
class Factor:
    id: str
    user_id: str
    kind: FactorKind
    name: str
    ready: bool
    created_at: datetime
    last_used_at: datetime | None
    # A WebAuthn credential's id (base64url) and transports; None and () for other kinds.
    credential_id: str | None = None
    transports: tuple[str, ...] = ()


@dataclass(frozen=True)
class Authenticator:
    """One ready factor as a manager sees it: no secret, credential or key."""

    id: str
    kind: FactorKind
    name: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class Authenticators:
    """A user's ready factors, the last used first, and how many recovery codes are left."""

    user_id: str
    factors: tuple[Authenticator, ...]
    recovery_codes_left: int


@dataclass(frozen=True)
class TotpSetup:
    """What the set-up page shows once: the QR code, and the URI and secret to type in."""

    factor_id: str
    secret: str = field(repr=False)
    uri: str = field(repr=False)
    qr_svg: str


def _factor(stored: StoredFactor) -> Factor:
    return Factor(
        id=stored.id,
        user_id=stored.user_id,
        kind=FactorKind(stored.kind),
        name=stored.name,
        ready=stored.state == READY,
        created_at=stored.created_at,
        last_used_at=stored.last_used_at,
        credential_id=stored.credential_id,
        transports=stored.transports,
    )


def _secret_purpose(factor_id: str) -> str:
    return f"totp-secret:{factor_id}"


def time_step(at: datetime) -> int:
    """The RFC 6238 time step `at` falls in (T0 = the Unix epoch)."""
    return int(at.timestamp()) // TOTP_PERIOD_S


def qr_svg(uri: str, *, title: str) -> str:
    """An inline <svg> of `uri` as a QR code: no XML declaration, no external reference."""
    qr = segno.make(uri, error="m", micro=False)
    svg = str(qr.svg_inline(scale=4, border=4, title=title, dark="#000", light="#fff"))
    return svg.replace("<svg ", '<svg role="img" ', 1)


def normalised_recovery_code(code: str) -> str:
    """A recovery code as stored: any case, dashes and spaces dropped."""
    return "".join(c for c in code.upper() if c not in " -\t")[:64]


def new_recovery_code() -> str:
    groups = (tokens.code(RECOVERY_GROUP, RECOVERY_ALPHABET) for _ in range(RECOVERY_GROUPS))
    return "-".join(groups)


class FactorService:
    def __init__(
        self, store: Store, authz: Authorizer, master_key: MasterKey, clock: Clock
    ) -> None:
        self._store = store
        self._authz = authz
        self._master_key = master_key
        self._recovery_key = master_key.derive("recovery-codes")
        self._clock = clock

    def recovery_digest(self, user_id: str, code: str) -> str:
        """The stored form of a recovery code: an HMAC bound to the user."""
        message = f"recovery\0{user_id}\0{normalised_recovery_code(code)}".encode()
        return hmac.new(self._recovery_key, message, hashlib.sha256).hexdigest()

    async def ready_factors(self, tx: Repositories, user_id: str) -> list[Factor]:
        """The user's ready factors: the last used first, then those never used, newest first."""
        stored = await tx.factors.list_for_user(user_id, state=READY)
        factors = [_factor(s) for s in stored]
        used = [f for f in factors if f.last_used_at is not None]
        never = [f for f in factors if f.last_used_at is None]
        used.sort(key=lambda f: (f.last_used_at or f.created_at, f.created_at), reverse=True)
        never.sort(key=lambda f: f.created_at, reverse=True)
        return used + never

    async def start_totp(
        self, tx: Repositories, ctx: Context, user: User, *, issuer: str
    ) -> TotpSetup:
        """A pending TOTP factor with a fresh secret, in place of the user's other pending one."""
        factor_id = new_id()
        secret = pyotp.random_base32()
        secret_enc = self._master_key.encrypt(secret.encode(), purpose=_secret_purpose(factor_id))
        await tx.factors.insert_pending(
            factor_id, user.id, FactorKind.TOTP.value, secret_enc=secret_enc, at=ctx.now()
        )
        await record(
            tx,
            ctx,
            "user.human.mfa.otp.setup.started",
            aggregate=("user", user.id),
            org_id=user.org_id,
            payload={"factor_id": factor_id},
        )
        return _setup(factor_id, secret, user, issuer)

    async def pending_totp(
        self, tx: Repositories, user: User, factor_id: str, *, issuer: str
    ) -> TotpSetup | None:
        """The set-up of the user's pending TOTP factor again (its page after a wrong code),
        or None when it is not the user's pending TOTP factor any more."""
        stored = await tx.factors.find(factor_id)
        if stored is None or stored.user_id != user.id or stored.kind != FactorKind.TOTP:
            return None
        if stored.state == READY or stored.secret_enc is None:
            return None
        secret = self._master_key.decrypt(stored.secret_enc, purpose=_secret_purpose(factor_id))
        return _setup(factor_id, secret.decode(), user, issuer)

    async def confirm_totp(
        self,
        tx: Repositories,
        ctx: Context,
        user: User,
        factor_id: str,
        code: str,
        *,
        name: str = "",
    ) -> bool:
        """Make a pending TOTP factor ready with a code from it; False for a wrong code (counted
        against the user). NotFound when the factor is not the user's pending TOTP."""
        name = name.strip()
        if len(name) > MAX_NAME_LENGTH:
            raise InvalidArgument("factor.name.too_long", "the name is too long", field="name")
        stored = await tx.factors.find(factor_id)
        if stored is None or stored.user_id != user.id or stored.kind != FactorKind.TOTP:
            raise _factor_not_found()
        if stored.state == READY:
            raise PreconditionFailed("factor.already_ready", "this factor is set up already")
        step = self._matching_step(stored, code, ctx.now())
        if step is None:
            await count_code_failure(tx, ctx, user, event="user.human.mfa.otp.check.failed")
            return False
        if not await tx.factors.make_ready(factor_id, name=name or "Authenticator app", step=step):
            raise PreconditionFailed("factor.already_ready", "this factor is set up already")
        await tx.users.reset_code_failures(user.id)
        await record(
            tx,
            ctx,
            "user.human.mfa.otp.added",
            aggregate=("user", user.id),
            org_id=user.org_id,
            payload={"factor_id": factor_id},
        )
        return True

    async def check_totp(self, tx: Repositories, ctx: Context, user: User, code: str) -> bool:
        """Check a code against the user's ready TOTP factors; each time step counts once.
        A wrong or replayed code is counted against the user."""
        now = ctx.now()
        for stored in await tx.factors.list_for_user(user.id, state=READY):
            if stored.kind != FactorKind.TOTP:
                continue
            step = self._matching_step(stored, code, now)
            if step is not None and await tx.factors.accept_step(stored.id, step, at=now):
                await tx.users.reset_code_failures(user.id)
                await record(
                    tx,
                    ctx,
                    "user.human.mfa.otp.check.succeeded",
                    aggregate=("user", user.id),
                    org_id=user.org_id,
                    payload={"factor_id": stored.id},
                )
                return True
        await count_code_failure(tx, ctx, user, event="user.human.mfa.otp.check.failed")
        return False

    def _matching_step(self, stored: StoredFactor, code: str, at: datetime) -> int | None:
        """The time step within the window whose code `code` is, unless that step (or a later
        one) was accepted before. Every candidate is compared, in constant time."""
        code = code.replace(" ", "").strip()
        if stored.secret_enc is None or len(code) != TOTP_DIGITS or not code.isdigit():
            return None
        secret = self._master_key.decrypt(stored.secret_enc, purpose=_secret_purpose(stored.id))
        totp = pyotp.TOTP(secret.decode(), digits=TOTP_DIGITS, interval=TOTP_PERIOD_S)
        current = time_step(at)
        found = None
        for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
            if tokens.equal(totp.generate_otp(step), code):
                found = step
        if found is None or (stored.last_step is not None and found <= stored.last_step):
            return None
        return found

    async def new_recovery_codes(self, tx: Repositories, ctx: Context, user: User) -> list[str]:
        """Ten fresh recovery codes, shown once; every earlier code stops working."""
        codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
        rows = [(new_id(), self.recovery_digest(user.id, c)) for c in codes]
        await tx.factors.replace_recovery_codes(user.id, rows, at=ctx.now())
        await record(
            tx,
            ctx,
            "user.human.recovery_codes.generated",
            aggregate=("user", user.id),
            org_id=user.org_id,
            payload={"count": len(codes)},
        )
        return codes

    async def use_recovery_code(
        self, tx: Repositories, ctx: Context, user: User, code: str
    ) -> bool:
        """Spend one of the user's recovery codes; False (counted against the user) for a
        wrong or used one."""
        given = self.recovery_digest(user.id, code)
        match = None
        for stored in await tx.factors.unused_recovery_codes(user.id):
            if tokens.equal(stored.digest, given):
                match = stored
        if match is None or not await tx.factors.spend_recovery_code(match.id, at=ctx.now()):
            await count_code_failure(tx, ctx, user, event="user.human.recovery_code.check.failed")
            return False
        await tx.users.reset_code_failures(user.id)
        left = await tx.factors.count_unused_recovery_codes(user.id)
        await record(
            tx,
            ctx,
            "user.human.recovery_code.used",
            aggregate=("user", user.id),
            org_id=user.org_id,
            payload={"left": left},
        )
        return True

    async def recovery_codes_left(self, tx: Repositories, user_id: str) -> int:
        return await tx.factors.count_unused_recovery_codes(user_id)

    async def remove_factor(
        self, tx: Repositories, ctx: Context, user: User, factor_id: str
    ) -> None:
        """Remove one of the user's factors (pending or ready); NotFound for anyone else's."""
        stored = await tx.factors.find(factor_id)
        if stored is None or stored.user_id != user.id:
            raise _factor_not_found()
        if not await tx.factors.delete(factor_id, user.id):
            raise _factor_not_found()
        await record(
            tx,
            ctx,
            _REMOVED_EVENTS[FactorKind(stored.kind)],
            aggregate=("user", user.id),
            org_id=user.org_id,
            payload={"factor_id": factor_id},
        )

    # --- managers -----------------------------------------------------------------------

    async def authenticators(self, ctx: Context, user_id: str) -> Authenticators:
        """A user's ready factors and recovery codes left, for a manager who may read the
        user (`user.read` in the user's organisation); pending set-ups are left out."""
        user = await self._managed(ctx, "user.read", user_id)
        async with self._store.reader() as tx:
            ready = await self.ready_factors(tx, user.id)
            left = await self.recovery_codes_left(tx, user.id)
        factors = tuple(
            Authenticator(f.id, f.kind, f.name, f.created_at, f.last_used_at) for f in ready
        )
        return Authenticators(user_id=user.id, factors=factors, recovery_codes_left=left)

    async def remove_authenticator(self, ctx: Context, user_id: str, factor_id: str) -> None:
        """A manager with `user.credential.write` removes one of the user's factors (a lost
        phone); NotFound for a factor of anyone else."""
        await self._managed(ctx, "user.credential.write", user_id)
        async with self._store.transaction() as tx:
            user = await load_human(tx, user_id)
            await self.remove_factor(tx, ctx, user, factor_id)

    async def remove_recovery_codes(self, ctx: Context, user_id: str) -> int:
        """A manager with `user.credential.write` voids the user's recovery codes; how many
        unused ones stopped working (0 changes nothing and records nothing)."""
        await self._managed(ctx, "user.credential.write", user_id)
        async with self._store.transaction() as tx:
            user = await load_human(tx, user_id)
            if not await tx.factors.count_unused_recovery_codes(user.id):
                return 0
            voided = await tx.factors.delete_recovery_codes(user.id)
            await record(
                tx,
                ctx,
                "user.human.recovery_codes.removed",
                aggregate=("user", user.id),
                org_id=user.org_id,
                payload={"count": voided},
            )
            return voided

    async def _managed(self, ctx: Context, permission: str, user_id: str) -> User:
        """The human user, once `permission` in their organisation (or on themselves) is
        checked (before the user's kind, which a refused manager does not learn)."""
        async with self._store.reader() as tx:
            user = await load_user(tx, user_id)
        await self._authz.require(ctx, permission, Resource(org_id=user.org_id, user_id=user.id))
        if user.kind is not UserKind.HUMAN:
            raise PreconditionFailed("user.not_human", "a machine user has no second factors")
        return user


def _setup(factor_id: str, secret: str, user: User, issuer: str) -> TotpSetup:
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.login_name, issuer_name=issuer)
    svg = qr_svg(uri, title=f"QR code for {issuer}: {user.login_name}")
    return TotpSetup(factor_id=factor_id, secret=secret, uri=uri, qr_svg=svg)


def _factor_not_found() -> NotFound:
    return NotFound("factor.not_found", "no such factor")
