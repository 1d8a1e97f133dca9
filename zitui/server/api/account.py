"""The handlers of the account API: each calls `services.account` once and shapes the answer.

The caller is always the token's user (`me`); no path names another user.
"""

from __future__ import annotations

from zitui.core.context import Context
from zitui.core.factors import Authenticator
from zitui.core.user_profile import ProfileChange
from zitui.records import User, UserKind
from zitui.server.api import models as m
from zitui.server.api.operations import Call

GENDERS = dict(zip(("", "female", "male", "diverse"), m.GENDER_NAMES, strict=True))
GENDER_VALUES = {name: value for value, name in GENDERS.items()}


def details(ctx: Context, user: User | None = None) -> m.Details:
    if user is not None:
        return m.Details(
            change_date=user.updated_at, creation_date=user.created_at, resource_owner=user.org_id
        )
    return m.Details(change_date=ctx.now(), resource_owner=ctx.actor.org_id if ctx.actor else "")


def changed(call: Call, user: User | None = None) -> m.Changed:
    return m.Changed(details=details(call.ctx, user))


def profile_of(user: User) -> m.Profile:
    return m.Profile(
        first_name=user.first_name,
        last_name=user.last_name,
        nick_name=user.nickname,
        display_name=user.display_name,
        preferred_language=user.preferred_language,
        gender=GENDERS.get(user.gender, "GENDER_UNSPECIFIED"),  # type: ignore[arg-type]
    )


def user_view(user: User) -> m.UserView:
    human = machine = None
    if user.kind is UserKind.MACHINE:
        machine = m.Machine(name=user.display_name or user.username, description=user.description)
    else:
        human = m.Human(
            profile=profile_of(user),
            email=m.Email(email=user.email, is_email_verified=user.email_verified),
            phone=m.Phone(phone=user.phone, is_phone_verified=user.phone_verified),
        )
    return m.UserView(
        id=user.id,
        details=m.Details(
            change_date=user.updated_at, creation_date=user.created_at, resource_owner=user.org_id
        ),
        state=f"USER_STATE_{user.state.value.upper()}",  # type: ignore[arg-type]
        user_name=user.username,
        login_names=[user.login_name],
        preferred_login_name=user.login_name,
        human=human,
        machine=machine,
    )


def factor_view(factor: Authenticator) -> m.AuthFactor:
    kind = str(factor.kind)
    return m.AuthFactor(
        id=factor.id,
        kind=kind,  # type: ignore[arg-type]
        name=factor.name,
        created_at=factor.created_at,
        last_used_at=factor.last_used_at,
        otp={} if kind == "totp" else None,
        otp_sms={} if kind == "otp_sms" else None,
        otp_email={} if kind == "otp_email" else None,
        u2f=m.FactorRef(id=factor.id, name=factor.name) if kind == "u2f" else None,
    )


# --- the user -------------------------------------------------------------------------------


async def get_my_user(call: Call) -> m.GetMyUserResponse:
    me = await call.services.account.me(call.ctx)
    return m.GetMyUserResponse(
        user=user_view(me.user),
        recovery_codes_left=me.recovery_codes_left,
        may_delete=me.may_delete,
        mfa_forced=me.mfa_forced,
        addable_factor_kinds=list(me.addable_kinds),  # type: ignore[arg-type]
        email_code_pending=me.email_code_pending,
        phone_code_pending=me.phone_code_pending,
    )


async def remove_my_user(call: Call) -> m.Changed:
    await call.services.account.delete_me(call.ctx, call.body.password)
    return changed(call)


async def update_my_user_name(call: Call) -> m.Changed:
    return changed(call, await call.services.account.change_username(call.ctx, call.body.user_name))


async def get_my_profile(call: Call) -> m.GetMyProfileResponse:
    user = (await call.services.account.me(call.ctx)).user
    return m.GetMyProfileResponse(details=details(call.ctx, user), profile=profile_of(user))


async def update_my_profile(call: Call) -> m.Changed:
    body: m.UpdateMyProfileRequest = call.body
    change = ProfileChange(
        first_name=body.first_name,
        last_name=body.last_name,
        nickname=body.nick_name,
        display_name=body.display_name,
        gender=None if body.gender is None else GENDER_VALUES[body.gender],
        preferred_language=body.preferred_language,
    )
    return changed(call, await call.services.account.update_profile(call.ctx, change))


# --- email and phone ------------------------------------------------------------------------


async def get_my_email(call: Call) -> m.GetMyEmailResponse:
    user = (await call.services.account.me(call.ctx)).user
    email = m.Email(email=user.email, is_email_verified=user.email_verified)
    return m.GetMyEmailResponse(details=details(call.ctx, user), email=email)


async def set_my_email(call: Call) -> m.Changed:
    return changed(call, await call.services.account.change_email(call.ctx, call.body.email))


async def verify_my_email(call: Call) -> m.Changed:
    return changed(call, await call.services.account.verify_email(call.ctx, call.body.code))


async def resend_my_email_verification(call: Call) -> m.Changed:
    await call.services.account.resend_email_code(call.ctx)
    return changed(call)


async def get_my_phone(call: Call) -> m.GetMyPhoneResponse:
    user = (await call.services.account.me(call.ctx)).user
    phone = m.Phone(phone=user.phone, is_phone_verified=user.phone_verified)
    return m.GetMyPhoneResponse(details=details(call.ctx, user), phone=phone)


async def set_my_phone(call: Call) -> m.Changed:
    return changed(call, await call.services.account.change_phone(call.ctx, call.body.phone))


async def remove_my_phone(call: Call) -> m.Changed:
    return changed(call, await call.services.account.remove_phone(call.ctx))


async def verify_my_phone(call: Call) -> m.Changed:
    return changed(call, await call.services.account.verify_phone(call.ctx, call.body.code))


async def resend_my_phone_verification(call: Call) -> m.Changed:
    await call.services.account.resend_phone_code(call.ctx)
    return changed(call)


# --- password -------------------------------------------------------------------------------


async def update_my_password(call: Call) -> m.Changed:
    body: m.UpdateMyPasswordRequest = call.body
    await call.services.account.change_password(call.ctx, body.old_password, body.new_password)
    return changed(call)


async def get_my_password_complexity_policy(
    call: Call,
) -> m.GetMyPasswordComplexityPolicyResponse:
    org_id = call.ctx.actor.org_id if call.ctx.actor else ""
    rules = await call.services.sessions.password_rules(org_id)
    policy = m.PasswordComplexityPolicy(
        details=details(call.ctx),
        min_length=rules.min_length,
        has_uppercase=rules.has_uppercase,
        has_lowercase=rules.has_lowercase,
        has_number=rules.has_number,
        has_symbol=rules.has_symbol,
    )
    return m.GetMyPasswordComplexityPolicyResponse(policy=policy)
