"""What the account service's parts share: its results, its dependencies, the self
permission check and the re-authentication rule.

Every method acts on the signed-in user (`ctx.actor`) only. Permissions are asked for with
`Resource(org_id=…, user_id=…)` of that user, so the table's self side
(`permissions.SELF_PERMISSIONS`) answers them, and a manager's check stays the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from zitui.core.authz import Authorizer
from zitui.core.clock import Clock
from zitui.core.context import Context
from zitui.core.crypto.passwords import PasswordHasher
from zitui.core.factors import Authenticator, FactorService
from zitui.core.idps import IdpService
from zitui.core.otp_factors import OtpFactors
from zitui.core.permissions import Resource
from zitui.core.throttle import Throttle, ThrottleLimits
from zitui.core.user_base import load_human
from zitui.core.user_codes import CodeMailer
from zitui.core.users import UserService
from zitui.core.webauthn import WebAuthnService
from zitui.errors import ReauthRequired, Unauthenticated
from zitui.records import User
from zitui.store import Store

# How recent the last sign-in must be for the changes that ask for it (Settings.reauth_window_s).
REAUTH_WINDOW = timedelta(minutes=10)
# Codes mailed or texted again per user within the throttle window.
RESENDS_PER_WINDOW = 5


@dataclass(frozen=True)
class Me:
    """The signed-in user's account as its pages show it."""

    user: User
    factors: tuple[Authenticator, ...]
    recovery_codes_left: int
    may_delete: bool
    mfa_forced: bool
    addable_kinds: tuple[str, ...]
    email_code_pending: bool
    phone_code_pending: bool


@dataclass(frozen=True)
class SessionInfo:
    """One of the user's browser sessions; `current` is the one the call comes from."""

    id: str
    user_agent: str
    client_ip: str
    created_at: datetime
    last_used_at: datetime
    current: bool


@dataclass(frozen=True)
class AppAccess:
    """An application holding a live refresh token of the user."""

    token_id: str
    client_id: str
    app_name: str
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class KeyRegistration:
    """A started security-key or passkey registration: its id, to finish it with, and the
    PublicKeyCredentialCreationOptionsJSON for the browser."""

    id: str
    options_json: str = field(repr=False)


@dataclass(frozen=True)
class AccountParts:
    """The services the account builds on."""

    users: UserService
    factors: FactorService
    otp: OtpFactors
    webauthn: WebAuthnService
    codes: CodeMailer
    # The identity providers a user may link (the Connections page); None offers none.
    idps: IdpService | None = None


class AccountBase:
    def __init__(
        self,
        store: Store,
        hasher: PasswordHasher,
        authz: Authorizer,
        clock: Clock,
        parts: AccountParts,
        *,
        issuer: str,
        challenge_key: bytes,
        reauth_window: timedelta = REAUTH_WINDOW,
        idle_timeout: timedelta = timedelta(hours=24),
        limits: ThrottleLimits | None = None,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._authz = authz
        self._clock = clock
        self._users = parts.users
        self._factors = parts.factors
        self._otp = parts.otp
        self._webauthn = parts.webauthn
        self._codes = parts.codes
        self._idps = parts.idps
        self._issuer = issuer
        self._challenge_key = challenge_key
        self.reauth_window = reauth_window
        self._idle_timeout = idle_timeout
        limits = limits or ThrottleLimits()
        self._resend_throttle = Throttle(
            store,
            clock,
            ThrottleLimits(RESENDS_PER_WINDOW, limits.ip_attempts, limits.window),
            purpose="resend",
        )
        self._code_throttle = Throttle(store, clock, limits, purpose="otp")

    @staticmethod
    def _me(ctx: Context) -> str:
        """The signed-in user's id; Unauthenticated for anyone else (anonymous, system)."""
        if ctx.actor is None or ctx.actor.is_system:
            raise Unauthenticated("auth.required", "sign in first")
        return ctx.actor.user_id

    async def _myself(self, ctx: Context, permission: str) -> User:
        """The signed-in human user, once `permission` on themselves is checked."""
        user_id = self._me(ctx)
        async with self._store.reader() as tx:
            user = await load_human(tx, user_id)
        await self._authz.require(ctx, permission, Resource(org_id=user.org_id, user_id=user.id))
        return user

    def _require_recent(self, ctx: Context) -> None:
        """ReauthRequired unless the user proved a factor within the re-auth window."""
        if ctx.auth_time is None or ctx.now() - ctx.auth_time > self.reauth_window:
            raise ReauthRequired("session.reauth_required", "sign in again to make this change")
