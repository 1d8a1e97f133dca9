"""Where an actor's permission holds, for queries that list what the actor may see."""

from __future__ import annotations

from zitui.core.context import Context
from zitui.core.permissions import permissions_of
from zitui.records import Scope
from zitui.store.repos.projects import Reach

NOWHERE = Reach()


def reach(ctx: Context, permission: str) -> Reach | None:
    """The organisations, projects and grants where `permission` holds; None: everywhere.

    Unlike `Context.org_scope` it keeps project and project-grant memberships, so a
    PROJECT_OWNER or PROJECT_GRANT_OWNER sees what they manage.
    """
    if ctx.actor is None:
        return NOWHERE
    if ctx.actor.is_system:
        return None
    found: dict[Scope, set[str]] = {scope: set() for scope in Scope}
    for membership in ctx.actor.memberships:
        if permission not in permissions_of(membership):
            continue
        if membership.scope is Scope.INSTANCE:
            return None
        found[membership.scope].add(membership.scope_id)
    return Reach(
        org_ids=frozenset(found[Scope.ORG]),
        project_ids=frozenset(found[Scope.PROJECT]),
        grant_ids=frozenset(found[Scope.PROJECT_GRANT]),
    )
