"""What every grant handler of the token endpoint works with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from zitui.core.oidc.errors import OAuthError, invalid_request, invalid_scope
from zitui.core.oidc.issuance import TokenIssuer
from zitui.core.oidc.scopes import Scopes, parse, well_formed
from zitui.records import User, UserState
from zitui.store import Repositories


@dataclass(frozen=True)
class GrantContext:
    tx: Repositories
    issuer: TokenIssuer
    form: Mapping[str, str]
    endpoint: str
    now: datetime

    def required(self, name: str) -> str:
        value = self.form.get(name, "")
        if not value:
            raise invalid_request(f"{name} is required")
        return value

    def requested_scopes(self) -> Scopes:
        values = parse(self.form.get("scope", ""))
        if not well_formed(values):
            raise invalid_scope("the scope is malformed")
        return Scopes(values)

    async def active_user(self, user_id: str | None, *, error: str = "invalid_grant") -> User:
        """The user a grant acts for, who must still exist and be active."""
        user = await self.tx.users.find(user_id) if user_id else None
        if user is None or user.state is not UserState.ACTIVE:
            raise OAuthError(error, "the user is unknown or not active")
        return user
