"""Operator sign-in: a manager proves a password and receives a Context to act with."""

from __future__ import annotations

from dataclasses import dataclass

from zitui.core.clock import Clock
from zitui.core.context import Actor, Context, RequestMeta
from zitui.core.credentials import PasswordChecker, login_policy
from zitui.core.crypto.passwords import PasswordHasher
from zitui.errors import PermissionDenied
from zitui.records import User
from zitui.store import Store


@dataclass(frozen=True)
class OperatorLogin:
    context: Context
    user: User
    password_change_required: bool


class AuthService:
    def __init__(self, store: Store, hasher: PasswordHasher, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._checker = PasswordChecker(store, hasher, clock)

    async def login_operator(
        self, login_name: str, password: str, request: RequestMeta
    ) -> OperatorLogin:
        """Check a manager's password; unknown users and wrong passwords look and cost alike."""
        async with self._store.reader() as tx:
            policy = await login_policy(tx, None)
        checked = await self._checker.verify(login_name, password, request, policy=policy)
        user = checked.user
        async with self._store.transaction() as tx:
            await self._checker.confirm(tx, checked, payload={"origin": request.origin})
            memberships = tuple(await tx.memberships.list_for_user(user.id))
        if not memberships:
            raise PermissionDenied("auth.not_manager", "only managers may use the operator console")
        actor = Actor(
            user_id=user.id, org_id=user.org_id, login_name=user.login_name, memberships=memberships
        )
        return OperatorLogin(
            context=Context(clock=self._clock, actor=actor, request=request),
            user=user,
            password_change_required=user.password_change_required,
        )
