"""Hosted login pages (ZITADEL's login v1 under /ui/login): plain forms, no JavaScript needed
but for WebAuthn (security keys and passkeys: /static/webauthn.js).

Each page submission is one call of the core login flow (`zitui.core.login.flows`), which
answers with the next step; `flow.respond` maps a step to a page. The flow's state diagram, and
which page renders which step: docs/login.md.

Every state change is a POST with a CSRF token; GETs only read. The only way back to an
application is the OIDC callback, which answers at the request's registered redirect URI.
"""

from __future__ import annotations

from starlette.routing import Route

from zitui.server import paths
from zitui.server.login.account import (
    password_init,
    password_reset,
    register,
    resend_code,
    user_init,
    verify_email,
)
from zitui.server.login.branding import branding_asset, branding_stylesheet
from zitui.server.login.external import (
    external_callback,
    external_callback_form,
    external_option,
    external_register,
    external_start,
)
from zitui.server.login.factors import (
    mfa_add,
    mfa_key,
    mfa_prompt,
    mfa_recovery_codes,
    mfa_totp,
    mfa_verify,
    mfa_verify_key,
    passkey_sign_in,
)
from zitui.server.login.password import password, password_change
from zitui.server.login.preview import preview
from zitui.server.login.signout import logged_out, logout, signed_in
from zitui.server.login.start import login_name, select_account, start


def routes() -> list[Route]:
    both = ["GET", "POST"]
    return [
        Route(paths.LOGIN, start, methods=["GET"]),
        Route(paths.LOGIN_NAME, login_name, methods=both),
        Route(paths.LOGIN_PASSWORD, password, methods=both),
        Route(paths.LOGIN_PASSWORD_CHANGE, password_change, methods=both),
        Route(paths.LOGIN_USER_SELECTION, select_account, methods=["POST"]),
        Route(paths.LOGIN_SIGNED_IN, signed_in, methods=["GET"]),
        Route(paths.LOGIN_REGISTER, register, methods=both),
        Route(paths.LOGIN_VERIFY_EMAIL, verify_email, methods=both),
        Route(paths.LOGIN_PASSWORD_INIT, password_init, methods=both),
        Route(paths.LOGIN_USER_INIT, user_init, methods=both),
        Route(paths.LOGIN_PASSWORD_RESET, password_reset, methods=["POST"]),
        Route(paths.LOGIN_CODE_RESEND, resend_code, methods=["POST"]),
        Route(paths.LOGIN_MFA_PROMPT, mfa_prompt, methods=both),
        Route(paths.LOGIN_MFA_TOTP, mfa_totp, methods=both),
        Route(paths.LOGIN_MFA_RECOVERY_CODES, mfa_recovery_codes, methods=both),
        Route(paths.LOGIN_MFA_VERIFY, mfa_verify, methods=both),
        Route(paths.LOGIN_MFA_KEY, mfa_key, methods=both),
        Route(paths.LOGIN_MFA_VERIFY_KEY, mfa_verify_key, methods=["POST"]),
        Route(paths.LOGIN_PASSKEY, passkey_sign_in, methods=["POST"]),
        Route(paths.LOGIN_MFA_ADD, mfa_add, methods=["POST"]),
        Route(paths.LOGIN_EXTERNAL, external_start, methods=["POST"]),
        Route(paths.LOGIN_EXTERNAL_CALLBACK, external_callback, methods=["GET"]),
        Route(paths.LOGIN_EXTERNAL_CALLBACK_FORM, external_callback_form, methods=["POST"]),
        Route(paths.LOGIN_EXTERNAL_OPTION, external_option, methods=["POST"]),
        Route(paths.LOGIN_EXTERNAL_REGISTER, external_register, methods=both),
        Route(paths.LOGOUT, logout, methods=["POST"]),
        Route(paths.LOGOUT_DONE, logged_out, methods=["GET"]),
        Route(f"{paths.LOGIN_BRANDING}/{{source}}/style.css", branding_stylesheet, methods=["GET"]),
        Route(f"{paths.LOGIN_BRANDING}/{{source}}/{{kind}}", branding_asset, methods=["GET"]),
        Route(paths.LOGIN_PREVIEW, preview, methods=["GET"]),
    ]
