"""Readable names for ids in a page (actors, organisations), fetched once per screen."""

from __future__ import annotations

from collections.abc import Iterable

from zitui.core.context import SYSTEM_ACTOR_ID, Context
from zitui.core.permissions import Resource
from zitui.core.services import Services
from zitui.errors import ZituiError
from zitui.records import UserGrant


class Names:
    """Looks ids up through the services; what the actor may not read keeps its id."""

    def __init__(self, services: Services, context: Context) -> None:
        self.services = services
        self.context = context
        self.orgs: dict[str, str] = {}
        self.users: dict[str, str] = {}
        self.projects: dict[str, str] = {}

    async def load_orgs(self, org_ids: Iterable[str | None]) -> None:
        for org_id in {o for o in org_ids if o and o not in self.orgs}:
            if not self.context.can("org.read", Resource(org_id=org_id)):
                self.orgs[org_id] = org_id  # asking would only record a refusal
                continue
            try:
                self.orgs[org_id] = (await self.services.orgs.get_org(self.context, org_id)).name
            except ZituiError:
                self.orgs[org_id] = org_id

    async def load_users(self, user_ids: Iterable[str | None]) -> None:
        actor = self.context.actor
        if actor is not None:
            self.users.setdefault(actor.user_id, actor.login_name)
        self.users.setdefault(SYSTEM_ACTOR_ID, SYSTEM_ACTOR_ID)
        # A user's organisation is known only after reading them; without an instance-wide
        # read, a lookup could be refused and that refusal would land in the audit log.
        if self.context.org_scope("user.read") is not None:
            return
        for user_id in {u for u in user_ids if u and u not in self.users}:
            try:
                user = await self.services.users.get_user(self.context, user_id)
            except ZituiError:
                self.users[user_id] = user_id
                continue
            self.users[user_id] = user.login_name

    async def load_projects(self, grants: Iterable[UserGrant]) -> None:
        """Project names of user grants, read from the project or the project grant."""
        for grant in grants:
            if grant.project_id in self.projects:
                continue
            self.projects[grant.project_id] = await self._project_name(grant)

    async def _project_name(self, grant: UserGrant) -> str:
        if grant.project_grant_id is not None:
            resource = Resource(org_id=grant.org_id, grant_id=grant.project_grant_id)
            if self.context.can("project.read", resource):
                found = await self.services.grants.get_project_grant(
                    self.context, grant.project_grant_id
                )
                return found.project_name
        resource = Resource(org_id=grant.org_id, project_id=grant.project_id)
        if self.context.can("project.read", resource):
            return (await self.services.projects.get_project(self.context, grant.project_id)).name
        return grant.project_id

    def org(self, org_id: str | None) -> str:
        return self.orgs.get(org_id, org_id) if org_id else ""

    def user(self, user_id: str | None) -> str:
        return self.users.get(user_id, user_id) if user_id else ""

    def project(self, project_id: str) -> str:
        return self.projects.get(project_id, project_id)
