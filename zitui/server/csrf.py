"""CSRF protection for hosted forms: tokens bound to the browser id and the flow.

A form carries an HMAC, under a key derived from the master key, of the browser's id (the
HttpOnly, SameSite=Lax browser cookie) and the id of the flow the form continues. A
cross-site page can read neither; a token taken from one flow does not submit another, and
every token dies with the browser id, which is replaced at each sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from starlette.requests import HTTPConnection

from zitui.errors import PermissionDenied
from zitui.server.browser import ensure_browser_id, sent_id
from zitui.server.state import get_services

FIELD_NAME = "csrf_token"
KEY_PURPOSE = "csrf"


def csrf_token(conn: HTTPConnection, flow_id: str = "") -> str:
    """The token for a form of `flow_id` on this page; a browser id is made when needed."""
    return _sign(conn, ensure_browser_id(conn), flow_id)


async def verify_csrf(conn: HTTPConnection, form: Mapping[str, Any], flow_id: str = "") -> None:
    """Raise PermissionDenied("csrf.invalid") unless the form's token matches the browser id
    the request came with and `flow_id`."""
    value = sent_id(conn)
    token = form.get(FIELD_NAME)
    if not value or not isinstance(token, str):
        raise _invalid()
    if not hmac.compare_digest(token.encode(), _sign(conn, value, flow_id).encode()):
        raise _invalid()


def _invalid() -> PermissionDenied:
    return PermissionDenied(
        "csrf.invalid", "the form's security token is missing or wrong; reload the page"
    )


def _sign(conn: HTTPConnection, browser: str, flow_id: str) -> str:
    key = get_services(conn).master_key.derive(KEY_PURPOSE)
    message = f"{browser}\x00{flow_id}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
