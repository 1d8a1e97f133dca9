"""Who calls this provider's own API: an access token turned into the user acting with it.

ZITADEL's APIs accept a user's access token only when its audience holds the API itself, which
a client asks for with the scope `urn:zitadel:iam:org:project:id:zitadel:aud`; a token issued
without it is refused even though it is live (ZITADEL: "invalid audience"). zitui follows: such
a token may call userinfo, never the account API. A machine user's personal access token
always may, as in ZITADEL, where personal access tokens are made for its APIs.
"""

from __future__ import annotations

from zitui.core.context import Actor
from zitui.core.oidc.audience import API_PROJECT
from zitui.core.oidc.bearer import BearerGrant
from zitui.core.oidc.scopes import AUD_SUFFIX, PROJECT_ID_PREFIX
from zitui.records import UserState
from zitui.store import Repositories

API_SCOPE = f"{PROJECT_ID_PREFIX}{API_PROJECT}{AUD_SUFFIX}"


def may_call_api(grant: BearerGrant) -> bool:
    """A personal access token, or a user's token whose scopes put the API in its audience."""
    return grant.audience_org is not None or API_PROJECT in grant.scopes.audience_projects


async def api_actor(tx: Repositories, grant: BearerGrant | None) -> Actor | None:
    """The active user behind a live grant that may call the API, or None."""
    if grant is None or not may_call_api(grant):
        return None
    user = await tx.users.find(grant.user_id)
    if user is None or user.state is not UserState.ACTIVE:
        return None
    memberships = tuple(await tx.memberships.list_for_user(user.id))
    return Actor(
        user_id=user.id, org_id=user.org_id, login_name=user.login_name, memberships=memberships
    )
