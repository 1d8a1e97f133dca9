"""What the account tests share: a user's own context, browser sessions, and messages read
as their recipients read them."""

from __future__ import annotations

import json
import re
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from tests.test_core_sessions import META, PASSWORD, set_policy
from zitui.core.context import Actor, Context, RequestMeta
from zitui.core.policies import LoginPolicy
from zitui.core.services import Services
from zitui.core.sessions import new_browser_cookie
from zitui.records import Session, User

_MAIL_CODE = re.compile(r"^ {4}([A-Z0-9]{6})$", re.MULTILINE)
_SMS_CODE = re.compile(r"^([A-Z0-9]{6}) ")


def own(
    services: Services,
    user: User,
    *,
    auth_time: datetime | None = None,
    recent: bool = True,
    session_id: str | None = None,
) -> Context:
    """The user acting on their own account, signed in just now unless `recent` is False."""
    actor = Actor(user_id=user.id, org_id=user.org_id, login_name=user.login_name)
    return Context(
        clock=services.clock,
        actor=actor,
        request=RequestMeta(origin="test", ip="192.0.2.7", user_agent="pytest"),
        auth_time=auth_time or (services.clock.now() if recent else None),
        session_id=session_id,
    )


async def signed_in(services: Services, user: User, *, user_agent: str = "pytest") -> Session:
    """A browser session of `user` made by a real password check."""
    request = RequestMeta(origin="test", ip=META.ip, user_agent=user_agent)
    return await services.sessions.check_password(
        new_browser_cookie(), user.username, PASSWORD, request, org_id=user.org_id
    )


async def login_policy(services: Services, org_id: str, **changes: Any) -> None:
    fields = {"mfa_init_skip_lifetime_s": 0} | changes
    await set_policy(services, "login", org_id, LoginPolicy(**fields))


async def mailed_codes(services: Services, to: str) -> list[str]:
    """The six-character codes of every mail delivered to `to`, oldest first."""
    await services.sender.deliver_due()
    folder = services.settings.data_dir / "mail"
    found = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        body = parsed.get_body(preferencelist=("plain",))
        if body is None or str(parsed["To"]) != to:
            continue
        found.extend(_MAIL_CODE.findall(body.get_content()))
    return found


async def texted_codes(services: Services, received: list[Any], to: str) -> list[str]:
    """The codes of every text message the provider received for `to`, oldest first."""
    await services.sender.deliver_due()
    codes = []
    for request in received:
        body = json.loads(request.body)
        if body["to"] == to:
            codes.extend(_SMS_CODE.findall(body["text"]))
    return codes
