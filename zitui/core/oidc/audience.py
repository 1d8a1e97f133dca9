"""Who a token is for: its audience, and the one rule that says whether a client may see it.

ZITADEL puts the client, its project and every client of that project in the audience, and any
project a scope `urn:zitadel:iam:org:project:id:{id}:aud` names. ZITADEL accepts any project
there, so one organisation could obtain tokens that another organisation's API accepts. zitui
accepts a project only when it belongs to the client's organisation (the owner of the client
app's project) or to the user's, or is granted to the user's organisation; any other project,
or one that does not exist, is `invalid_scope` (RFC 6749 §4.1.2.1, §5.2). The project's
has-project and role checks apply to every project the scope adds, as to the client's own
project at sign-in. ZITADEL's alias `urn:zitadel:iam:org:project:id:zitadel:aud` stands for
this provider's own API, whose audience is the issuer.

At introspection (RFC 7662 §2.2) a token is active only for clients of a project in its
audience. A personal access token names no projects: its audience is every project its machine
user's organisation owns or holds a grant of.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from zitui.core.oidc.bearer import BearerGrant
from zitui.core.oidc.errors import OAuthError, invalid_scope
from zitui.core.oidc.scopes import Scopes
from zitui.records import AudienceProject, OidcClient, StoredAuthRequest, User
from zitui.store import Repositories

API_PROJECT = "zitadel"  # `urn:zitadel:iam:org:project:id:zitadel:aud`: this provider's API


@dataclass(frozen=True)
class Audience:
    values: tuple[str, ...]  # the `aud` claim
    projects: tuple[str, ...]  # the projects in it, for the roles claims


def asked_projects(scopes: Scopes) -> tuple[str, ...]:
    """The projects the audience scopes name, without the alias of this provider's API."""
    return tuple(p for p in scopes.audience_projects if p != API_PROJECT)


async def audience_of(
    tx: Repositories,
    *,
    client: OidcClient | None,
    user: User,
    scopes: Scopes,
    api_audience: str,
) -> Audience:
    """The audience of a token `client` gets for `user` (a machine user acting as itself
    when `client` is None); `invalid_scope` for a project out of reach or whose checks the
    user does not pass. One indexed query, and a second for the role check when a project
    the scope adds asks for it."""
    own = client.project_id if client else ""
    asked = [p for p in dict.fromkeys(asked_projects(scopes)) if p != own]
    found = await tx.oidc_clients.audience_projects(
        [own, *asked] if own else asked, org_id=user.org_id
    )
    client_org = found[own].org_id if own in found else ""
    extra = [_reachable(found.get(p), p, user=user, client_org=client_org) for p in asked]
    await _check_roles(tx, user, [p for p in extra if p.role_check])
    projects = [found[own], *extra] if own in found else extra
    values = [client.client_id] if client else []
    for project in projects:
        values += [project.project_id, *project.client_ids]
    if API_PROJECT in scopes.audience_projects:
        values.append(api_audience)
    return Audience(tuple(dict.fromkeys(values)), tuple(p.project_id for p in projects))


async def check_requested(tx: Repositories, client: OidcClient, scopes: Scopes) -> None:
    """At `/authorize`, before anyone signs in: every project the scope names must exist.
    Whether the user may reach it is known only once they have signed in."""
    asked = asked_projects(scopes)
    if not asked:
        return
    found = await tx.oidc_clients.audience_projects(asked, org_id=client.org_id)
    unknown = next((p for p in asked if p not in found), None)
    if unknown is not None:
        raise _out_of_reach(unknown)


async def check_signed_in(tx: Repositories, stored: StoredAuthRequest) -> None:
    """Before a code is issued: the audience the code will carry is within the signed-in
    user's reach (`invalid_scope` otherwise), so the application learns it at once."""
    client = await tx.oidc_clients.find_by_app_id(stored.app_id)
    user = await tx.users.find(stored.user_id) if stored.user_id else None
    if client is None or user is None:
        return  # the token endpoint refuses the code
    await audience_of(tx, client=client, user=user, scopes=Scopes(stored.scopes), api_audience="")


async def reaches(tx: Repositories, grant: BearerGrant, project_id: str) -> bool:
    """Whether the token's audience holds the project: the rule for introspection."""
    if grant.audience_org is not None:
        return await tx.oidc_clients.org_has_project(grant.audience_org, project_id)
    return project_id in grant.audience


def _reachable(
    project: AudienceProject | None, project_id: str, *, user: User, client_org: str
) -> AudienceProject:
    if project is None:
        raise _out_of_reach(project_id)
    own_or_granted = project.org_id == user.org_id or project.granted
    if not own_or_granted and project.org_id != client_org:
        raise _out_of_reach(project_id)
    if project.has_project_check and not own_or_granted:
        raise invalid_scope(f"the user's organisation has no access to project {project_id}")
    return project


async def _check_roles(tx: Repositories, user: User, projects: Iterable[AudienceProject]) -> None:
    wanted = [p.project_id for p in projects]
    if not wanted:
        return
    grants = await tx.oidc_clients.granted_roles(user.id, wanted)
    with_roles = {g.project_id for g in grants if g.role_keys}
    for project_id in wanted:
        if project_id not in with_roles:
            raise invalid_scope(f"the user has no role in project {project_id}")


def _out_of_reach(project_id: str) -> OAuthError:
    return invalid_scope(f"project {project_id} is unknown or out of this client's reach")
