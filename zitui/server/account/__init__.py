"""The signed-in user's own account pages under /ui/console/users/me: profile, password,
security (factors and recovery codes), connections, sessions and deleting the account.

Plain forms like the hosted login's: every change is a CSRF-checked POST that makes one call
of the core account service (`zitui.core.account`) with the user as actor, then goes back to
its page with a notice (or shows the page again with the error on its field). A change that
needs a recent sign-in goes through the login flow's password page and back.
"""

from __future__ import annotations

from starlette.routing import Route

from zitui.server import paths
from zitui.server.account import connections, profile, security, sessions


def routes() -> list[Route]:
    get, post = ["GET"], ["POST"]
    return [
        Route(paths.ACCOUNT, profile.profile, methods=get),
        Route(paths.ACCOUNT_PROFILE, profile.save_profile, methods=post),
        Route(paths.ACCOUNT_USERNAME, profile.change_username, methods=post),
        Route(paths.ACCOUNT_EMAIL, profile.change_email, methods=post),
        Route(paths.ACCOUNT_EMAIL_VERIFY, profile.verify_email, methods=post),
        Route(paths.ACCOUNT_EMAIL_RESEND, profile.resend_email, methods=post),
        Route(paths.ACCOUNT_PHONE, profile.change_phone, methods=post),
        Route(paths.ACCOUNT_PHONE_VERIFY, profile.verify_phone, methods=post),
        Route(paths.ACCOUNT_PHONE_RESEND, profile.resend_phone, methods=post),
        Route(paths.ACCOUNT_PHONE_REMOVE, profile.remove_phone, methods=post),
        Route(paths.ACCOUNT_PASSWORD, security.password, methods=get),
        Route(paths.ACCOUNT_PASSWORD, security.change_password, methods=post),
        Route(paths.ACCOUNT_SECURITY, security.security, methods=get),
        Route(paths.ACCOUNT_FACTOR_ADD, security.add_factor, methods=post),
        Route(paths.ACCOUNT_FACTOR_RENAME, security.rename_factor, methods=post),
        Route(paths.ACCOUNT_FACTOR_REMOVE, security.remove_factor, methods=post),
        Route(paths.ACCOUNT_RECOVERY_CODES, security.regenerate_codes, methods=post),
        Route(paths.ACCOUNT_CONNECTIONS, connections.connections, methods=get),
        Route(paths.ACCOUNT_LINK_ADD, connections.link_provider, methods=post),
        Route(paths.ACCOUNT_LINK_REMOVE, connections.remove_link, methods=post),
        Route(paths.ACCOUNT_SESSIONS, sessions.sessions, methods=get),
        Route(paths.ACCOUNT_SESSION_END, sessions.end_session, methods=post),
        Route(paths.ACCOUNT_SESSIONS_END_OTHERS, sessions.end_other_sessions, methods=post),
        Route(paths.ACCOUNT_APP_REVOKE, sessions.revoke_app, methods=post),
        Route(paths.ACCOUNT_DELETE, sessions.delete, methods=get),
        Route(paths.ACCOUNT_DELETE, sessions.delete_account, methods=post),
        Route(paths.ACCOUNT_DELETED, sessions.deleted, methods=get),
    ]
