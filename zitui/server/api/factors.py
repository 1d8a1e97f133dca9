"""Handlers of the account API for second factors, passkeys, recovery codes, sessions and
the applications holding the user's refresh tokens."""

from __future__ import annotations

import base64
import json

from zitui.core.factors import FactorKind
from zitui.server.api import models as m
from zitui.server.api.account import details, factor_view
from zitui.server.api.operations import Call

# --- listing --------------------------------------------------------------------------------


async def list_my_auth_factors(call: Call) -> m.ListMyAuthFactorsResponse:
    """Every second factor; passkeys are listed by `passwordless/_search`, as in ZITADEL."""
    me = await call.services.account.me(call.ctx)
    factors = [f for f in me.factors if f.kind is not FactorKind.PASSKEY]
    return m.ListMyAuthFactorsResponse(result=[factor_view(f) for f in factors])


async def list_my_passwordless(call: Call) -> m.ListMyPasswordlessResponse:
    me = await call.services.account.me(call.ctx)
    tokens = [
        m.WebAuthNToken(id=f.id, name=f.name, created_at=f.created_at, last_used_at=f.last_used_at)
        for f in me.factors
        if f.kind is FactorKind.PASSKEY
    ]
    return m.ListMyPasswordlessResponse(result=tokens)


# --- TOTP and codes by email or SMS ---------------------------------------------------------


async def add_my_auth_factor_otp(call: Call) -> m.AddMyAuthFactorOTPResponse:
    setup = await call.services.account.start_totp(call.ctx)
    return m.AddMyAuthFactorOTPResponse(
        url=setup.uri, secret=setup.secret, factor_id=setup.factor_id, details=details(call.ctx)
    )


async def verify_my_auth_factor_otp(call: Call) -> m.RecoveryCodes:
    body: m.VerifyMyAuthFactorOTPRequest = call.body
    codes = await call.services.account.confirm_totp(
        call.ctx, body.factor_id, body.code, body.token_name
    )
    return m.RecoveryCodes(details=details(call.ctx), recovery_codes=codes)


async def add_my_auth_factor_otp_sms(call: Call) -> m.RecoveryCodes:
    codes = await call.services.account.add_otp(call.ctx, "otp_sms")
    return m.RecoveryCodes(details=details(call.ctx), recovery_codes=codes)


async def add_my_auth_factor_otp_email(call: Call) -> m.RecoveryCodes:
    codes = await call.services.account.add_otp(call.ctx, "otp_email")
    return m.RecoveryCodes(details=details(call.ctx), recovery_codes=codes)


async def _remove_kind(call: Call, kind: FactorKind) -> m.Changed:
    """ZITADEL's removal of the user's one factor of a kind (no id in its path)."""
    await call.services.account.remove_factor_kind(call.ctx, kind.value)
    return m.Changed(details=details(call.ctx))


async def remove_my_auth_factor_otp(call: Call) -> m.Changed:
    return await _remove_kind(call, FactorKind.TOTP)


async def remove_my_auth_factor_otp_sms(call: Call) -> m.Changed:
    return await _remove_kind(call, FactorKind.OTP_SMS)


async def remove_my_auth_factor_otp_email(call: Call) -> m.Changed:
    return await _remove_kind(call, FactorKind.OTP_EMAIL)


# --- security keys and passkeys (WebAuthn) --------------------------------------------------


async def _start_key(call: Call, *, passkey: bool) -> m.AddMyWebAuthNResponse:
    started = await call.services.account.start_key_registration(call.ctx, passkey=passkey)
    public_key = base64.b64encode(started.options_json.encode()).decode()
    key = m.WebAuthNKey(id=started.id, public_key=public_key)
    return m.AddMyWebAuthNResponse(key=key, details=details(call.ctx))


async def _finish_key(call: Call, *, passkey: bool) -> m.RecoveryCodes:
    body: m.VerifyMyWebAuthNRequest = call.body
    credential = json.dumps(body.verification.public_key_credential)
    codes = await call.services.account.finish_key_registration(
        call.ctx,
        body.registration_id,
        credential,
        body.verification.token_name,
        passkey=passkey,
    )
    return m.RecoveryCodes(details=details(call.ctx), recovery_codes=codes)


async def add_my_auth_factor_u2f(call: Call) -> m.AddMyWebAuthNResponse:
    return await _start_key(call, passkey=False)


async def verify_my_auth_factor_u2f(call: Call) -> m.RecoveryCodes:
    return await _finish_key(call, passkey=False)


async def add_my_passwordless(call: Call) -> m.AddMyWebAuthNResponse:
    return await _start_key(call, passkey=True)


async def verify_my_passwordless(call: Call) -> m.RecoveryCodes:
    return await _finish_key(call, passkey=True)


async def remove_my_auth_factor_u2f(call: Call) -> m.Changed:
    await call.services.account.remove_factor(call.ctx, call.params["token_id"])
    return m.Changed(details=details(call.ctx))


async def remove_my_passwordless(call: Call) -> m.Changed:
    await call.services.account.remove_factor(call.ctx, call.params["token_id"])
    return m.Changed(details=details(call.ctx))


async def rename_my_auth_factor(call: Call) -> m.Changed:
    await call.services.account.rename_factor(call.ctx, call.params["factor_id"], call.body.name)
    return m.Changed(details=details(call.ctx))


# --- recovery codes -------------------------------------------------------------------------


async def get_my_recovery_codes(call: Call) -> m.RecoveryCodesLeft:
    me = await call.services.account.me(call.ctx)
    return m.RecoveryCodesLeft(count=me.recovery_codes_left)


async def regenerate_my_recovery_codes(call: Call) -> m.RecoveryCodes:
    codes = await call.services.account.regenerate_recovery_codes(call.ctx)
    return m.RecoveryCodes(details=details(call.ctx), recovery_codes=codes)


# --- sessions and applications --------------------------------------------------------------


async def list_my_user_sessions(call: Call) -> m.ListMyUserSessionsResponse:
    sessions = await call.services.account.list_sessions(call.ctx)
    return m.ListMyUserSessionsResponse(
        result=[
            m.UserSession(
                session_id=s.id,
                user_agent=s.user_agent,
                client_ip=s.client_ip,
                creation_date=s.created_at,
                last_used_date=s.last_used_at,
                current=s.current,
            )
            for s in sessions
        ]
    )


async def end_my_user_session(call: Call) -> m.Changed:
    await call.services.account.end_session(call.ctx, call.params["session_id"])
    return m.Changed(details=details(call.ctx))


async def end_my_other_sessions(call: Call) -> m.EndedSessions:
    ended = await call.services.account.end_other_sessions(call.ctx)
    return m.EndedSessions(details=details(call.ctx), ended=ended)


async def list_my_refresh_tokens(call: Call) -> m.ListMyRefreshTokensResponse:
    held = await call.services.account.list_app_access(call.ctx)
    return m.ListMyRefreshTokensResponse(
        result=[
            m.RefreshToken(
                id=a.token_id,
                client_id=a.client_id,
                app_name=a.app_name,
                creation_date=a.created_at,
                expiration=a.expires_at,
            )
            for a in held
        ]
    )


async def revoke_my_refresh_token(call: Call) -> m.Changed:
    await call.services.account.revoke_app_access(call.ctx, call.params["id"])
    return m.Changed(details=details(call.ctx))


async def revoke_all_my_refresh_tokens(call: Call) -> m.Changed:
    await call.services.account.revoke_all_app_access(call.ctx)
    return m.Changed(details=details(call.ctx))
