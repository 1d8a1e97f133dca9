"""The signed-in user's own account: profile, email, phone, password, factors, sessions, the
applications holding their tokens, and deleting the account (issue #12, ZITADEL's auth API).

Each change goes through the same user and factor services as a manager's, with the user as
actor and the same audit events; the permission table's self side allows it. Changes of
email, phone and factors ask for a sign-in within `reauth_window` (`ReauthRequired`,
"session.reauth_required"); a password change and the deletion of the account take the
current password as that proof instead. The factor methods live in `account_factors.py`, the
links to external identity providers in `account_links.py`.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from zitui.core.account_base import (
    REAUTH_WINDOW,
    AccountParts,
    AppAccess,
    KeyRegistration,
    Me,
    SessionInfo,
)
from zitui.core.account_factors import AccountFactors
from zitui.core.account_links import AccountLinks, LinkedIdp
from zitui.core.audit import record
from zitui.core.context import Context
from zitui.core.credentials import login_policy
from zitui.core.login.factor_pages import addable
from zitui.core.login.second_factor import mfa_forced
from zitui.core.user_base import load_human
from zitui.core.user_codes import Purpose, current_target, wrong_code
from zitui.core.user_profile import ProfileChange
from zitui.errors import InvalidArgument, NotFound, PreconditionFailed
from zitui.records import User
from zitui.store import Repositories
from zitui.store.repos.tokens import HeldRefreshToken

__all__ = [
    "REAUTH_WINDOW",
    "AccountParts",
    "AccountService",
    "AppAccess",
    "KeyRegistration",
    "LinkedIdp",
    "Me",
    "SessionInfo",
]


class AccountService(AccountFactors, AccountLinks):
    async def me(self, ctx: Context) -> Me:
        """The user, their factors, and what the policy lets them do."""
        user = await self._myself(ctx, "user.read")
        held = await self._factors.authenticators(ctx, user.id)
        async with self._store.reader() as tx:
            policy = await login_policy(tx, user.org_id)
            ready = await self._factors.ready_factors(tx, user.id)
            email_pending = await _code_pending(tx, ctx, user, Purpose.EMAIL)
            phone_pending = await _code_pending(tx, ctx, user, Purpose.PHONE)
        return Me(
            user=user,
            factors=held.factors,
            recovery_codes_left=held.recovery_codes_left,
            may_delete=policy.allow_self_delete,
            mfa_forced=mfa_forced(policy),
            addable_kinds=addable(user, policy, ready),
            email_code_pending=email_pending and not user.email_verified,
            phone_code_pending=phone_pending and not user.phone_verified,
        )

    # --- profile --------------------------------------------------------------------------

    async def update_profile(self, ctx: Context, change: ProfileChange) -> User:
        return await self._users.update_profile(ctx, self._me(ctx), change)

    async def change_username(self, ctx: Context, username: str) -> User:
        return await self._users.change_username(ctx, self._me(ctx), username)

    # --- email ----------------------------------------------------------------------------

    async def change_email(self, ctx: Context, email: str) -> User:
        """Store the new address unverified and mail a code to it."""
        self._require_recent(ctx)
        return await self._users.change_email(ctx, self._me(ctx), email, verified=False)

    async def resend_email_code(self, ctx: Context) -> None:
        """A new code to the unverified address; the one before stops working."""
        user = await self._myself(ctx, "user.write")
        if not user.email or user.email_verified:
            raise _nothing_to_verify(Purpose.EMAIL)
        await self._resend_throttle.reserve(name=f"user:{user.id}", ip=ctx.request.ip)
        async with self._store.transaction() as tx:
            await self._codes.send(tx, ctx, await load_human(tx, user.id), Purpose.EMAIL)

    async def verify_email(self, ctx: Context, code: str) -> User:
        """Mark the address verified with the code mailed to it; a wrong code is counted
        against the user (InvalidArgument "code.invalid")."""
        return await self._verify(ctx, code, Purpose.EMAIL)

    # --- phone ----------------------------------------------------------------------------

    async def change_phone(self, ctx: Context, phone: str) -> User:
        """Store the new number unverified and text a code to it."""
        self._require_recent(ctx)
        if not phone.strip():
            raise InvalidArgument("user.phone.required", "enter a phone number", field="phone")
        return await self._users.change_phone(
            ctx, self._me(ctx), phone, verified=False, then=self._send_phone_code
        )

    async def resend_phone_code(self, ctx: Context) -> None:
        user = await self._myself(ctx, "user.write")
        if not user.phone or user.phone_verified:
            raise _nothing_to_verify(Purpose.PHONE)
        await self._resend_throttle.reserve(name=f"user:{user.id}", ip=ctx.request.ip)
        async with self._store.transaction() as tx:
            await self._send_phone_code(tx, ctx, await load_human(tx, user.id))

    async def verify_phone(self, ctx: Context, code: str) -> User:
        return await self._verify(ctx, code, Purpose.PHONE)

    async def remove_phone(self, ctx: Context) -> User:
        """Remove the number; the user's factor of codes by SMS goes with it (refused when it
        is the last factor while MFA is forced)."""
        self._require_recent(ctx)
        return await self._users.change_phone(
            ctx, self._me(ctx), "", verified=False, then=self._remove_sms_factor
        )

    async def _send_phone_code(self, tx: Repositories, ctx: Context, user: User) -> None:
        await self._otp.send_sms_code(tx, ctx, user, Purpose.PHONE)

    async def _remove_sms_factor(self, tx: Repositories, ctx: Context, user: User) -> None:
        ready = await self._factors.ready_factors(tx, user.id)
        sms = [f for f in ready if f.kind.value == "otp_sms"]
        if not sms:
            return
        if len(ready) == 1 and mfa_forced(await login_policy(tx, user.org_id)):
            raise PreconditionFailed(
                "mfa.last_factor_forced",
                "codes by SMS are your only second factor here: add another first",
            )
        await self._factors.remove_factor(tx, ctx, user, sms[0].id)

    async def _verify(self, ctx: Context, code: str, purpose: Purpose) -> User:
        user = await self._myself(ctx, "user.write")
        await self._code_throttle.reserve(name=f"user:{user.id}", ip=ctx.request.ip)
        async with self._store.transaction() as tx:
            current = await load_human(tx, user.id)
            address, verified = _address(current, purpose)
            if not address or verified:
                raise _nothing_to_verify(purpose)
            spent = await self._codes.spend(tx, ctx, current, purpose, code)
            if spent:
                return await self._mark_verified(tx, ctx, current, purpose)
            await self._codes.count_failure(tx, ctx, current)
        raise wrong_code()

    async def _mark_verified(
        self, tx: Repositories, ctx: Context, user: User, purpose: Purpose
    ) -> User:
        if purpose is Purpose.PHONE:
            await tx.users.set_phone(user.id, user.phone, verified=True, at=ctx.now())
            event, payload = "user.human.phone.verified", {"phone": user.phone}
        else:
            await tx.users.set_email(user.id, user.email, verified=True, at=ctx.now())
            event, payload = "user.human.email.verified", {"email": user.email}
        await record(
            tx, ctx, event, aggregate=("user", user.id), org_id=user.org_id, payload=payload
        )
        return await load_human(tx, user.id)

    # --- password -------------------------------------------------------------------------

    async def change_password(
        self, ctx: Context, current: str, new: str, *, repeat: str | None = None
    ) -> None:
        """Replace the password (the current one is the proof); this browser session stays
        signed in, every other session and every token of the user ends. A form that asks for
        the new password twice passes the second as `repeat`."""
        if repeat is not None and not hmac.compare_digest(new.encode(), repeat.encode()):
            raise InvalidArgument(
                "password.mismatch", "the passwords differ", field="new_password_repeat"
            )
        await self._myself(ctx, "user.credential.write")
        await self._users.change_own_password(ctx, current, new, keep_session_id=ctx.session_id)

    # --- sessions and applications --------------------------------------------------------

    async def list_sessions(self, ctx: Context) -> list[SessionInfo]:
        """The user's live sessions on every browser, the most recently used first."""
        user = await self._myself(ctx, "session.read")
        async with self._store.reader() as tx:
            sessions = await tx.sessions.list_for_user(user.id)
        live_since = ctx.now() - self._idle_timeout
        return [
            SessionInfo(
                id=s.id,
                user_agent=s.user_agent,
                client_ip=s.client_ip,
                created_at=s.created_at,
                last_used_at=s.last_used_at,
                current=s.id == ctx.session_id,
            )
            for s in sessions
            if s.last_used_at > live_since
        ]

    async def end_session(self, ctx: Context, session_id: str) -> None:
        """Sign the user out of one browser; NotFound for a session not theirs."""
        user = await self._myself(ctx, "session.delete")
        async with self._store.transaction() as tx:
            session = await tx.sessions.find(session_id)
            if session is None or session.user_id != user.id:
                raise NotFound("session.not_found", "no such session")
            await tx.sessions.terminate([session.id], at=ctx.now())
            await _record(tx, ctx, user, "user.session.terminated", {"session_ids": [session.id]})

    async def end_other_sessions(self, ctx: Context) -> int:
        """Sign the user out of every browser but this one; how many sessions ended."""
        user = await self._myself(ctx, "session.delete")
        async with self._store.transaction() as tx:
            ended = await tx.sessions.terminate_for_user(
                user.id, at=ctx.now(), keep_session_id=ctx.session_id
            )
            if ended:
                payload = {"count": ended, "kept_session_id": ctx.session_id or ""}
                await _record(tx, ctx, user, "user.session.terminated", payload)
        return ended

    async def list_app_access(self, ctx: Context) -> list[AppAccess]:
        """The applications holding a live refresh token of the user (ZITADEL's
        ListMyRefreshTokens), the newest first."""
        user = await self._myself(ctx, "session.read")
        async with self._store.reader() as tx:
            held = await tx.refresh_tokens.list_held_by_apps(user.id, at=ctx.now())
        return [
            AppAccess(
                token_id=h.id,
                client_id=h.client_id,
                app_name=h.app_name,
                created_at=h.created_at,
                expires_at=h.expires_at,
            )
            for h in held
        ]

    async def revoke_app_access(self, ctx: Context, token_id: str) -> None:
        """Revoke one of the user's refresh tokens with its whole grant (ZITADEL's
        RevokeMyRefreshToken); NotFound for a token not theirs or not live."""
        user = await self._myself(ctx, "session.delete")
        async with self._store.transaction() as tx:
            held = await tx.refresh_tokens.list_held_by_apps(user.id, at=ctx.now())
            token = next((h for h in held if h.id == token_id), None)
            if token is None:
                raise NotFound("token.not_found", "no such token")
            await _revoke(tx, ctx, user, token)

    async def revoke_all_app_access(self, ctx: Context) -> int:
        """Revoke every refresh token the user's applications hold (ZITADEL's
        RevokeAllMyRefreshTokens), in one transaction; how many."""
        user = await self._myself(ctx, "session.delete")
        async with self._store.transaction() as tx:
            held = await tx.refresh_tokens.list_held_by_apps(user.id, at=ctx.now())
            for token in held:
                await _revoke(tx, ctx, user, token)
        return len(held)

    # --- deletion -------------------------------------------------------------------------

    async def delete_me(self, ctx: Context, password: str) -> None:
        """Delete the account when the login policy allows it, confirmed with the password;
        removed as a manager removes a user (the same event), and every session and token
        ends with it."""
        user = await self._myself(ctx, "user.self.delete")
        async with self._store.reader() as tx:
            policy = await login_policy(tx, user.org_id)
            credentials = await tx.users.find_credentials(user.id)
        # The hash is checked (against a dummy without a password) before the policy is
        # told, so each refusal costs the same.
        proven = await self._hasher.verify(
            credentials.password_hash if credentials else None, password
        )
        if not policy.allow_self_delete:
            raise PreconditionFailed(
                "user.self_delete.not_allowed", "deleting your own account is not allowed here"
            )
        if not proven:
            raise InvalidArgument(
                "password.current_wrong", "the current password is wrong", field="password"
            )
        await self._users.remove_user(ctx, user.id, by_self=True)


def _address(user: User, purpose: Purpose) -> tuple[str, bool]:
    if purpose is Purpose.PHONE:
        return user.phone, user.phone_verified
    return user.email, user.email_verified


def _nothing_to_verify(purpose: Purpose) -> PreconditionFailed:
    if purpose is Purpose.PHONE:
        return PreconditionFailed(
            "user.phone.nothing_to_verify", "there is no unverified phone number"
        )
    return PreconditionFailed("user.email.nothing_to_verify", "there is no unverified address")


async def _code_pending(tx: Repositories, ctx: Context, user: User, purpose: Purpose) -> bool:
    stored = await tx.user_codes.find(user.id, purpose.value)
    return (
        stored is not None
        and stored.expires_at > ctx.now()
        and stored.target == current_target(user, purpose)
    )


async def _record(
    tx: Repositories, ctx: Context, user: User, event_type: str, payload: Mapping[str, object]
) -> None:
    await record(
        tx, ctx, event_type, aggregate=("user", user.id), org_id=user.org_id, payload=dict(payload)
    )


async def _revoke(tx: Repositories, ctx: Context, user: User, token: HeldRefreshToken) -> None:
    """Inside the transaction: end a refresh token's whole grant (its family and the access
    tokens issued with it), audited."""
    await tx.refresh_tokens.revoke_family(token.family_id, at=ctx.now())
    await tx.access_tokens.revoke_for_grant(token.family_id, at=ctx.now())
    payload = {"token_id": token.id, "client_id": token.client_id}
    await _record(tx, ctx, user, "user.token.removed", payload)
