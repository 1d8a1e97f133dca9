"""Pickers for the things forms refer to: an organisation, a user, a project."""

from __future__ import annotations

from zitui.core.context import Context
from zitui.core.services import Services
from zitui.core.validation import MAX_PAGE
from zitui.records import Organization, Page, Project, ProjectGrant, User
from zitui.screens.paged_table import Column, Nouns, page_of
from zitui.screens.pick import PickModal


def org_picker(services: Services, context: Context, title: str) -> PickModal:
    async def load(search: str, offset: int, limit: int) -> Page[Organization]:
        return await services.orgs.list_orgs(context, search=search, offset=offset, limit=limit)

    columns = (
        Column("Name", lambda org: org.name),
        Column("Primary domain", lambda org: org.primary_domain),
        Column("State", lambda org: org.state.value),
    )
    return PickModal(title, load, columns, Nouns("organisations", "organisation"))


def user_picker(
    services: Services, context: Context, title: str, *, org_id: str | None = None
) -> PickModal:
    async def load(search: str, offset: int, limit: int) -> Page[User]:
        return await services.users.list_users(
            context, org_id=org_id, search=search, offset=offset, limit=limit
        )

    columns = (
        Column("Login name", lambda user: user.login_name),
        Column("Name", lambda user: user.display_name),
        Column("Email", lambda user: user.email),
        Column("Type", lambda user: user.kind.value),
    )
    return PickModal(title, load, columns, Nouns("users", "user"))


def project_picker(
    services: Services, context: Context, title: str, *, org_id: str | None = None
) -> PickModal:
    async def load(search: str, offset: int, limit: int) -> Page[Project]:
        return await services.projects.list_projects(
            context, org_id=org_id, search=search, offset=offset, limit=limit
        )

    columns = (
        Column("Name", lambda project: project.name),
        Column("State", lambda project: project.state.value),
    )
    return PickModal(title, load, columns, Nouns("projects", "project"))


def granted_project_picker(
    services: Services, context: Context, title: str, *, org_id: str
) -> PickModal:
    """Projects granted to `org_id`; picks the ProjectGrant."""

    async def load(search: str, offset: int, limit: int) -> Page[ProjectGrant]:
        # The service has no search; an organisation holds few grants, so filter here.
        page = await services.grants.list_granted_projects(
            context, org_id, offset=0, limit=MAX_PAGE
        )
        return page_of(page.items, search, offset, limit, text=lambda grant: grant.project_name)

    columns = (
        Column("Project", lambda grant: grant.project_name),
        Column("Roles", lambda grant: ", ".join(grant.role_keys)),
        Column("State", lambda grant: grant.state.value),
    )
    return PickModal(title, load, columns, Nouns("granted projects", "granted project"))
