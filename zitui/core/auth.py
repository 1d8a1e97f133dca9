"""Operator sign-in: a manager proves a password and receives a Context to act with."""

from __future__ import annotations

from dataclasses import dataclass

from zitui.core.clock import Clock
from zitui.core.context import Actor, Context, RequestMeta
from zitui.core.login.flows import LoginFlowService
from zitui.core.password_expiry import days_left
from zitui.errors import PermissionDenied
from zitui.records import User
from zitui.store import Store


@dataclass(frozen=True)
class OperatorLogin:
    context: Context
    user: User
    password_change_required: bool
    # The password age policy's warning: days until the password expires, within the window.
    password_expires_in_days: int | None = None


class AuthService:
    def __init__(self, store: Store, login: LoginFlowService, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._login = login

    async def login_operator(
        self, login_name: str, password: str, request: RequestMeta, *, code: str = ""
    ) -> OperatorLogin:
        """Check a manager's password through the login flow's password step (unknown users
        and wrong passwords look and cost alike), then the second factor when the user has
        one or the login policy forces it: PreconditionFailed("auth.second_factor_required")
        asks for `code`, a code of the authenticator app or a recovery code."""
        checked = await self._login.sign_in_console(login_name, password, request, code=code)
        user = checked.user
        async with self._store.reader() as tx:
            memberships = tuple(await tx.memberships.list_for_user(user.id))
            expires_in = await days_left(tx, user.id, now=self._clock.now())
        if not memberships:
            raise PermissionDenied("auth.not_manager", "only managers may use the operator console")
        actor = Actor(
            user_id=user.id, org_id=user.org_id, login_name=user.login_name, memberships=memberships
        )
        return OperatorLogin(
            context=Context(clock=self._clock, actor=actor, request=request),
            user=user,
            password_change_required=user.password_change_required,
            password_expires_in_days=expires_in,
        )
