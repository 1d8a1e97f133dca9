"""One organisation: details, lifecycle, domains, and the way to its users, projects, managers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from zitui.core.context import Context
from zitui.core.permissions import Resource
from zitui.core.services import Services
from zitui.records import Organization, OrgDomain, OrgState, Page, Scope
from zitui.screens.branding import BrandingScreen
from zitui.screens.events import EventsScreen
from zitui.screens.form import Field, Values
from zitui.screens.formats import aligned, when, yes_no
from zitui.screens.granted_projects import GrantedProjectsScreen
from zitui.screens.idps import IdpsScreen
from zitui.screens.managers import ManagersScreen
from zitui.screens.paged_table import Column, Nouns, PagedTable, page_of
from zitui.screens.policies import PoliciesScreen
from zitui.screens.projects import ProjectsScreen
from zitui.screens.section import SectionScreen
from zitui.screens.texts import TextsScreen
from zitui.screens.users import UsersScreen

DOMAIN_COLUMNS = (
    Column("Domain", lambda d: d.domain),
    Column("Primary", lambda d: yes_no(d.is_primary)),
    Column("Verified", lambda d: yes_no(d.is_verified)),
    Column("Challenge", lambda d: d.validation_type or "none"),
    Column("Publish the token at", lambda d: d.validation_target),
)
METHODS = (("DNS TXT record", "dns"), ("HTTP file", "http"))


def describe_org(org: Organization) -> str:
    return aligned(
        [
            ("Name", org.name),
            ("State", org.state.value),
            ("Primary domain", org.primary_domain),
            ("Created", when(org.created_at)),
            ("Id", org.id),
        ]
    )


class OrgScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("org.tcss")
    AUTO_FOCUS = "#domains-table"
    BINDINGS = [
        Binding("u", "users", "Users"),
        Binding("j", "projects", "Projects"),
        Binding("g", "granted", "Granted"),
        Binding("m", "managers", "Managers"),
        Binding("h", "history", "History", show=False),
        Binding("i", "texts", "Texts"),
        Binding("b", "branding", "Branding"),
        Binding("l", "policies", "Policies"),
        Binding("f", "idps", "Identity providers"),
        Binding("r", "rename", "Rename"),
        Binding("d", "deactivate", "Deactivate"),
        Binding("d", "reactivate", "Reactivate"),
        Binding("x", "remove", "Remove"),
        Binding("a", "add_domain", "Add domain"),
        Binding("c", "challenge", "Challenge"),
        Binding("v", "verify", "Verify"),
        Binding("s", "make_primary", "Make primary"),
        Binding("delete", "remove_domain", "Remove domain"),
    ]

    def __init__(self, services: Services, context: Context, org: Organization) -> None:
        super().__init__(services, context)
        self.org = org

    def compose(self) -> ComposeResult:
        yield from self.title_bar(f"Organisation {self.org.name}", self.org.primary_domain)
        yield Static(describe_org(self.org), id="org-details", markup=False)
        yield Static("Domains", classes="subtitle")
        yield PagedTable(
            self.load_domains,
            DOMAIN_COLUMNS,
            Nouns("domains", "domain"),
            id="domains",
            key=lambda d: d.domain,
            searchable=False,
        )
        yield Footer(compact=True)

    async def load_domains(self, search: str, offset: int, limit: int) -> Page[OrgDomain]:
        domains = await self.services.orgs.list_domains(self.context, self.org.id)
        return page_of(domains, search, offset, limit, text=lambda d: d.domain)

    @property
    def resource(self) -> Resource:
        return Resource(org_id=self.org.id)

    @property
    def domains(self) -> PagedTable:
        return self.query_one("#domains", PagedTable)

    @property
    def domain(self) -> OrgDomain | None:
        return self.domains.current if self.is_mounted else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        writable = self.can("org.write", self.resource)
        domain = self.domain
        match action:
            case "users":
                return self.can("user.read", self.resource)
            case "projects":
                return self.can("project.read", self.resource)
            case "granted":
                return self.can("project.read", self.resource)
            case "managers":
                return self.can("org.member.read", self.resource)
            case "history":
                return self.can("events.read", self.resource)
            case "policies":
                return self.can("policy.read", self.resource)
            case "idps":
                return self.can("org.idp.read", self.resource)
            case "texts" | "branding":
                return self.can("policy.read", self.resource)
            case "rename" | "add_domain":
                return writable
            case "deactivate":
                return writable and self.org.state is OrgState.ACTIVE
            case "reactivate":
                return writable and self.org.state is OrgState.INACTIVE
            case "remove":
                return self.can("org.delete", self.resource)
            case "challenge" | "verify":
                return writable and domain is not None and not domain.is_verified
            case "make_primary" | "remove_domain":
                return writable and domain is not None and not domain.is_primary
        return True

    def show_org(self, org: Organization) -> None:
        self.org = org
        self.query_one("#section-title", Static).update(f"Organisation {org.name}")
        self.query_one("#section-detail", Static).update(org.primary_domain)
        self.query_one("#org-details", Static).update(describe_org(org))
        self.refresh_bindings()

    def saved(self, org: Organization) -> None:
        self.notify(f"Organisation {org.name} is {org.state.value}.", title="Saved", markup=False)
        self.show_org(org)

    def action_rename(self) -> None:
        async def rename(values: Values) -> Organization:
            return await self.services.orgs.rename_org(self.context, self.org.id, values["name"])

        self.form(
            f"Rename {self.org.name}", [Field("name", "Name", self.org.name)], rename, self.saved
        )

    def action_deactivate(self) -> None:
        async def deactivate() -> Organization:
            return await self.services.orgs.deactivate_org(self.context, self.org.id)

        self.confirm(
            "Deactivate an organisation",
            f"Deactivate {self.org.name}? Its users can no longer sign in until it is reactivated.",
            deactivate,
            self.saved,
            action="Deactivate",
        )

    def action_reactivate(self) -> None:
        async def reactivate() -> Organization:
            return await self.services.orgs.reactivate_org(self.context, self.org.id)

        self.call(reactivate, self.saved)

    def action_remove(self) -> None:
        async def remove() -> None:
            await self.services.orgs.remove_org(self.context, self.org.id)

        def removed(_: Any) -> None:
            self.notify(f"Organisation {self.org.name} is removed.", title="Removed", markup=False)
            self.dismiss(None)

        self.confirm(
            "Remove an organisation",
            f"Remove {self.org.name} with its domains, users, projects, applications, "
            "identity providers and managers? This cannot be undone.",
            remove,
            removed,
            action="Remove",
        )

    def action_add_domain(self) -> None:
        async def add(values: Values) -> OrgDomain:
            return await self.services.orgs.add_domain(self.context, self.org.id, values["domain"])

        self.form(
            f"Add a domain to {self.org.name}",
            [Field("domain", "Domain", placeholder="login.example.com")],
            add,
            self.domain_saved,
            action="Add",
        )

    def domain_saved(self, domain: OrgDomain) -> None:
        self.notify(f"Domain {domain.domain} is saved.", title="Saved", markup=False)
        self.domains.reload()

    def action_challenge(self) -> None:
        domain = self.domain
        if domain is None:
            return

        async def challenge(values: Values) -> OrgDomain:
            return await self.services.orgs.generate_domain_validation(
                self.context, self.org.id, domain.domain, values["method"]
            )

        def issued(found: OrgDomain) -> None:
            self.domains.reload()
            self.show_secret(
                f"Prove that {found.domain} is yours",
                "Token",
                found.validation_token,
                details=[("Publish it at", found.validation_target)],
            )

        self.form(
            f"How to prove {domain.domain}",
            [
                Field(
                    "method",
                    "Method",
                    domain.validation_type or "dns",
                    kind="choice",
                    choices=METHODS,
                )
            ],
            challenge,
            issued,
            action="Issue a token",
        )

    def action_verify(self) -> None:
        domain = self.domain
        if domain is None:
            return

        async def verify() -> OrgDomain:
            return await self.services.orgs.verify_domain(self.context, self.org.id, domain.domain)

        target = domain.validation_target or "where your challenge says"
        self.confirm(
            "Verify a domain",
            f"Is the token published at {target}? zitui does not fetch it; verifying records "
            "your word for it.",
            verify,
            self.domain_saved,
            action="Verify",
        )

    def action_make_primary(self) -> None:
        domain = self.domain
        if domain is None:
            return

        async def make_primary() -> Organization:
            return await self.services.orgs.set_primary_domain(
                self.context, self.org.id, domain.domain
            )

        def done(org: Organization) -> None:
            self.show_org(org)
            self.domains.reload()

        self.confirm(
            "Change the primary domain",
            f"Make {domain.domain} primary? Login names of {self.org.name}'s users become "
            f"username@{domain.domain}.",
            make_primary,
            done,
            action="Make primary",
        )

    def action_remove_domain(self) -> None:
        domain = self.domain
        if domain is None:
            return

        async def remove() -> None:
            await self.services.orgs.remove_domain(self.context, self.org.id, domain.domain)

        self.confirm(
            "Remove a domain",
            f"Remove {domain.domain} from {self.org.name}?",
            remove,
            lambda _: self.domains.reload(),
            action="Remove",
        )

    def action_users(self) -> None:
        self.open(UsersScreen(self.services, self.context, org=self.org, fixed=True))

    def action_projects(self) -> None:
        self.open(ProjectsScreen(self.services, self.context, org=self.org, fixed=True))

    def action_granted(self) -> None:
        self.open(GrantedProjectsScreen(self.services, self.context, org=self.org))

    def action_texts(self) -> None:
        self.open(TextsScreen(self.services, self.context, org=self.org))

    def action_branding(self) -> None:
        self.open(BrandingScreen(self.services, self.context, org=self.org))

    def action_policies(self) -> None:
        self.open(PoliciesScreen(self.services, self.context, org=self.org))

    def action_idps(self) -> None:
        self.open(IdpsScreen(self.services, self.context, org=self.org))

    def action_history(self) -> None:
        self.open(
            EventsScreen(
                self.services,
                self.context,
                aggregate_id=self.org.id,
                label=f"organisation {self.org.name}",
            )
        )

    def action_managers(self) -> None:
        self.open(
            ManagersScreen(
                self.services,
                self.context,
                scope=Scope.ORG,
                scope_id=self.org.id,
                label=f"organisation {self.org.name}",
                resource=self.resource,
            )
        )
