"""Hosted login pages (ZITADEL's login v1 under /ui/login): plain forms, no JavaScript needed.

```mermaid
stateDiagram-v2
    [*] --> entry: GET /login (?authRequestID)
    entry --> accounts: browser has sessions, no prompt=login
    entry --> login_name: no sessions, or prompt=login
    accounts --> login_name: use another account
    accounts --> password: session too old (lifetime, max_age, prompt=login)
    accounts --> done: session satisfies the request (POST /userselection)
    login_name --> password: POST /loginname (same answer for every name)
    password --> password: wrong password (same answer for unknown and machine users)
    password --> change_password: password change required
    password --> done: POST /password
    change_password --> done: POST /password/change
    done --> callback: auth request: link_session, 303 /oauth/v2/authorize/callback?id=
    done --> signed_in: no auth request
    signed_in --> logged_out: POST /logout (one account or all)
```

Every state change is a POST with a CSRF token; GETs only read. The only way back to an
application is the OIDC callback, which answers at the request's registered redirect URI.
"""

from __future__ import annotations

from starlette.routing import Route

from zitui.server import paths
from zitui.server.login.password import password, password_change
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
        Route(paths.LOGOUT, logout, methods=["POST"]),
        Route(paths.LOGOUT_DONE, logged_out, methods=["GET"]),
    ]
