"""The operator's home: which instance, who is signed in with which roles, the sign-ins per
minute and the outbox (for instance managers), the organisations, and the keys to every
section of the console."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Sparkline, Static

from zitui.config import Settings
from zitui.core.activity import CHART_MINUTES, OutboxState
from zitui.core.context import Context
from zitui.core.permissions import Resource, permissions_of
from zitui.core.services import Services
from zitui.errors import ZituiError
from zitui.records import Instance, Membership, Organization, Page, Scope
from zitui.screens.branding import BrandingScreen
from zitui.screens.events import EventsScreen
from zitui.screens.feedback import report
from zitui.screens.granted_projects import GrantedProjectsScreen
from zitui.screens.idps import IdpsScreen
from zitui.screens.managers import ManagersScreen
from zitui.screens.notifications import NotificationsScreen
from zitui.screens.org import OrgScreen
from zitui.screens.orgs import ORG_COLUMNS, ORG_NOUNS, OrgsScreen
from zitui.screens.paged_table import PagedTable
from zitui.screens.pickers import org_picker
from zitui.screens.policies import PoliciesScreen
from zitui.screens.projects import ProjectsScreen
from zitui.screens.session import SignedOut
from zitui.screens.texts import TextsScreen
from zitui.screens.users import UsersScreen
from zitui.ssh.host_key import host_key_fingerprint

PAGE_SIZE = 20
# How often the sign-in chart and the outbox figures are read again, in seconds.
ACTIVITY_REFRESH_S = 5.0
MEMBER_AREAS = ("iam.member", "org.member", "project.member", "project.grant.member")
_SCOPE_NAMES = {
    Scope.ORG: "organisation",
    Scope.PROJECT: "project",
    Scope.PROJECT_GRANT: "project grant",
}


def describe_membership(membership: Membership, org_names: Mapping[str, str]) -> str:
    roles = ", ".join(membership.roles)
    if membership.scope is Scope.INSTANCE:
        return f"{roles} on the instance"
    name = org_names.get(membership.scope_id, membership.scope_id)
    return f"{roles} on {_SCOPE_NAMES[membership.scope]} {name}"


def describe_sign_ins(per_minute: list[int]) -> str:
    now = per_minute[-1] if per_minute else 0
    return (
        f"Sign-ins: {now} this minute, {sum(per_minute)} in {len(per_minute)} min, "
        f"peak {max(per_minute, default=0)}/min"
    )


def describe_outbox(outbox: OutboxState) -> str:
    return f"Outbox: {outbox.pending} pending, {outbox.failed} failed"


def describe_ssh(settings: Settings) -> str:
    """The SSH console's address and host key fingerprint, for operators to check on their
    first connection; "" when the console is not served over SSH."""
    if not settings.ssh_listen:
        return ""
    fingerprint = host_key_fingerprint(settings.data_dir) or "made at the first start"
    return f"SSH console on {settings.ssh_listen} · host key {fingerprint}"


def describe_memberships(memberships: Iterable[Membership], org_names: Mapping[str, str]) -> str:
    described = [describe_membership(m, org_names) for m in memberships]
    return "Roles: " + ("; ".join(described) if described else "none")


class HomeScreen(Screen[None]):
    CSS_PATH = Path(__file__).with_name("home.tcss")
    AUTO_FOCUS = "#orgs-table"
    BINDINGS = [
        Binding("o", "orgs", "Organisations"),
        Binding("u", "users", "Users"),
        Binding("r", "projects", "Projects"),
        Binding("g", "granted", "Granted projects"),
        Binding("m", "managers", "Managers"),
        Binding("e", "events", "Events"),
        Binding("t", "notifications", "Notifications"),
        Binding("i", "texts", "Texts"),
        Binding("b", "branding", "Branding"),
        Binding("l", "policies", "Policies"),
        Binding("f", "idps", "Identity providers"),
        Binding("question_mark", "app.help", "Help", key_display="?", show=False),
        Binding("ctrl+l", "sign_out", "Sign out"),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    def __init__(
        self,
        services: Services,
        context: Context,
        *,
        page_size: int = PAGE_SIZE,
        refresh_s: float | None = None,
    ) -> None:
        super().__init__()
        self.services = services
        self.context = context
        self.page_size = page_size
        self.refresh_s = refresh_s or ACTIVITY_REFRESH_S
        self.instance: Instance | None = None
        self.left = False
        # The activity is the instance's: only its managers see it.
        self.shows_activity = context.can("iam.read", Resource.instance())

    def compose(self) -> ComposeResult:
        actor = self.context.actor
        with Vertical(id="home-header"):
            yield Static("Instance …", id="instance", markup=False)
            yield Static(
                f"Signed in as {actor.login_name if actor else ''}", id="operator", markup=False
            )
            yield Static(
                describe_memberships(actor.memberships if actor else (), {}),
                id="roles",
                markup=False,
            )
            ssh = describe_ssh(self.services.settings)
            if ssh:
                yield Static(ssh, id="ssh", markup=False)
            if self.shows_activity:
                with Horizontal(id="activity"):
                    yield Static(describe_sign_ins([]), id="sign-ins-text", markup=False)
                    yield Sparkline([0] * CHART_MINUTES, summary_function=max, id="sign-ins")
                yield Static("Outbox …", id="outbox", markup=False)
        yield PagedTable(
            self.load_orgs, ORG_COLUMNS, ORG_NOUNS, id="orgs", page_size=self.page_size
        )
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.load_header()
        if self.shows_activity:
            self.load_activity()
            self.set_interval(self.refresh_s, self.load_activity)

    def on_screen_suspend(self) -> None:
        self.left = True

    def on_screen_resume(self) -> None:
        """Back from a section: organisations may have been created, renamed or removed."""
        if self.left:
            self.query_one("#orgs", PagedTable).reload()

    @work(group="header", exclusive=True, exit_on_error=False)
    async def load_header(self) -> None:
        try:
            instance = await self.services.instance.get_instance(self.context)
        except Exception as error:
            report(self, error)
            return
        self.instance = instance
        self.query_one("#instance", Static).update(f"Instance {instance.name} · {instance.domain}")
        memberships = self.context.actor.memberships if self.context.actor else ()
        org_names = await self.find_org_names(memberships)
        self.query_one("#roles", Static).update(describe_memberships(memberships, org_names))

    @work(group="activity", exclusive=True, exit_on_error=False)
    async def load_activity(self) -> None:
        """The sign-ins per minute of the last half hour and the outbox's unsent messages."""
        try:
            per_minute = await self.services.activity.sign_ins_per_minute(self.context)
            outbox = await self.services.activity.outbox_state(self.context)
        except Exception as error:
            report(self, error)
            return
        self.query_one("#sign-ins", Sparkline).data = per_minute
        self.query_one("#sign-ins-text", Static).update(describe_sign_ins(per_minute))
        self.query_one("#outbox", Static).update(describe_outbox(outbox))

    async def find_org_names(self, memberships: Iterable[Membership]) -> dict[str, str]:
        names: dict[str, str] = {}
        for membership in memberships:
            if membership.scope is not Scope.ORG:
                continue
            try:
                org = await self.services.orgs.get_org(self.context, membership.scope_id)
            except ZituiError:
                continue
            names[org.id] = org.name
        return names

    async def load_orgs(self, search: str, offset: int, limit: int) -> Page[Organization]:
        return await self.services.orgs.list_orgs(
            self.context, search=search, offset=offset, limit=limit
        )

    @on(PagedTable.Opened, "#orgs")
    def open_org(self, event: PagedTable.Opened) -> None:
        self.app.push_screen(OrgScreen(self.services, self.context, event.item))

    def reaches(self, permission: str) -> bool:
        """Whether the actor holds `permission` anywhere (the instance or some scope)."""
        return any(
            permission in permissions_of(m)
            for m in (self.context.actor.memberships if self.context.actor else ())
        ) or bool(self.context.actor and self.context.actor.is_system)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        match action:
            case "users":
                return self.reaches("user.read")
            case "projects" | "granted":
                return self.reaches("project.read")
            case "events":
                return self.reaches("events.read")
            case "notifications":
                return self.context.can("iam.read", Resource.instance())
            case "texts" | "branding":
                return self.context.can("iam.policy.read", Resource.instance())
            case "policies":
                return self.context.can("iam.policy.read", Resource.instance())
            case "idps":
                return self.context.can("iam.idp.read", Resource.instance())
            case "managers":
                return any(self.reaches(f"{area}.read") for area in MEMBER_AREAS)
        return True

    def action_orgs(self) -> None:
        self.app.push_screen(OrgsScreen(self.services, self.context))

    def action_users(self) -> None:
        self.app.push_screen(UsersScreen(self.services, self.context))

    def action_projects(self) -> None:
        self.app.push_screen(ProjectsScreen(self.services, self.context))

    def action_granted(self) -> None:
        """The granted projects of the operator's organisation, or of one they pick."""
        scope = self.context.org_scope("project.read")
        if scope is not None and len(scope) == 1:
            [org_id] = scope
            self.open_granted(org_id)
            return

        def picked(org: Organization | None) -> None:
            if org is not None:
                self.app.push_screen(GrantedProjectsScreen(self.services, self.context, org=org))

        title = "Projects granted to which organisation?"
        self.app.push_screen(org_picker(self.services, self.context, title), picked)

    @work(group="open", exclusive=True, exit_on_error=False)
    async def open_granted(self, org_id: str) -> None:
        try:
            org = await self.services.orgs.get_org(self.context, org_id)
        except Exception as error:
            report(self, error)
            return
        self.app.push_screen(GrantedProjectsScreen(self.services, self.context, org=org))

    def action_events(self) -> None:
        self.app.push_screen(EventsScreen(self.services, self.context))

    def action_notifications(self) -> None:
        self.app.push_screen(NotificationsScreen(self.services, self.context))

    def action_texts(self) -> None:
        self.app.push_screen(TextsScreen(self.services, self.context))

    def action_branding(self) -> None:
        self.app.push_screen(BrandingScreen(self.services, self.context))

    def action_policies(self) -> None:
        self.app.push_screen(PoliciesScreen(self.services, self.context))

    def action_idps(self) -> None:
        self.app.push_screen(IdpsScreen(self.services, self.context))

    def action_managers(self) -> None:
        """Instance managers for those who may see them; else the managers of one org."""
        if self.context.can("iam.member.read", Resource.instance()):
            self.open_instance_managers()
            return

        def picked(org: Organization | None) -> None:
            if org is not None:
                self.app.push_screen(
                    ManagersScreen(
                        self.services,
                        self.context,
                        scope=Scope.ORG,
                        scope_id=org.id,
                        label=f"organisation {org.name}",
                        resource=Resource(org_id=org.id),
                    )
                )

        self.app.push_screen(
            org_picker(self.services, self.context, "Managers of which organisation?"), picked
        )

    @work(group="open", exclusive=True, exit_on_error=False)
    async def open_instance_managers(self) -> None:
        try:
            instance = self.instance or await self.services.instance.get_instance(self.context)
        except Exception as error:
            report(self, error)
            return
        self.app.push_screen(
            ManagersScreen(
                self.services,
                self.context,
                scope=Scope.INSTANCE,
                scope_id=instance.id,
                label="the instance",
                resource=Resource.instance(),
            )
        )

    def action_sign_out(self) -> None:
        self.post_message(SignedOut())
