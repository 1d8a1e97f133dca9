"""One user: profile, state and manager roles, and what a manager may do to them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from zitui.core.context import Context
from zitui.core.permissions import Resource
from zitui.core.services import Services
from zitui.core.user_lifecycle import IssuedInitCode
from zitui.core.users import ProfileChange
from zitui.records import Membership, Scope, User, UserKind, UserState
from zitui.screens.authenticators import AuthenticatorsScreen
from zitui.screens.credentials import MachineCredentialsScreen
from zitui.screens.events import EventsScreen
from zitui.screens.form import Field, Values
from zitui.screens.formats import aligned, when, yes_no
from zitui.screens.names import Names
from zitui.screens.section import SectionScreen
from zitui.screens.user_grants import UserGrantsScreen

GENDERS = (("unspecified", ""), ("female", "female"), ("male", "male"), ("diverse", "diverse"))
PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "nickname",
    "display_name",
    "gender",
    "preferred_language",
)


def verified(value: str, flag: bool) -> str:
    return f"{value} (verified: {yes_no(flag)})" if value else ""


def describe_user(user: User, memberships: list[str] | None = None) -> str:
    rows = [("Login name", user.login_name), ("Type", user.kind.value), ("State", user.state.value)]
    if user.kind is UserKind.HUMAN:
        rows += [
            ("Name", f"{user.first_name} {user.last_name}"),
            ("Display name", user.display_name),
            ("Nickname", user.nickname),
            ("Email", verified(user.email, user.email_verified)),
            ("Phone", verified(user.phone, user.phone_verified)),
            ("Language", user.preferred_language),
            ("Gender", user.gender),
            ("Must change password", yes_no(user.password_change_required)),
        ]
    else:
        rows += [
            ("Name", user.display_name),
            ("Description", user.description),
            ("Access token type", user.access_token_type.value),
            ("Client secret", "set" if user.has_secret else "none"),
        ]
    rows += [
        ("Created", when(user.created_at)),
        ("Changed", when(user.updated_at)),
        ("Id", user.id),
    ]
    if memberships is not None:
        rows.append(("Manager roles", "; ".join(memberships) or "none"))
    return aligned(rows)


def describe_membership(membership: Membership, names: Names) -> str:
    roles = ", ".join(membership.roles)
    if membership.scope is Scope.INSTANCE:
        return f"{roles} on the instance"
    where = names.org(membership.org_id)
    if membership.scope is Scope.ORG:
        return f"{roles} on organisation {where}"
    kind = membership.scope.value.replace("_", " ")
    return f"{roles} on {kind} {membership.scope_id} of {where}"


def profile_fields(user: User) -> list[Field]:
    return [
        Field("username", "Username", user.username),
        Field("first_name", "First name", user.first_name),
        Field("last_name", "Last name", user.last_name),
        Field(
            "display_name", "Display name", user.display_name, hint="Empty: first and last name."
        ),
        Field("nickname", "Nickname", user.nickname),
        Field("gender", "Gender", user.gender, kind="choice", choices=GENDERS),
        Field("preferred_language", "Preferred language", user.preferred_language),
        Field("email", "Email", user.email),
        Field("email_verified", "Email is verified", user.email_verified, kind="check"),
        Field("phone", "Phone", user.phone),
        Field("phone_verified", "Phone is verified", user.phone_verified, kind="check"),
    ]


class UserScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("user.tcss")
    BINDINGS = [
        Binding("e", "edit", "Edit profile"),
        Binding("w", "set_password", "Set password"),
        Binding("i", "init_code", "Send init code"),
        Binding("k", "credentials", "Credentials"),
        Binding("a", "authenticators", "Authenticators"),
        Binding("g", "authorizations", "Authorizations"),
        Binding("h", "history", "History", show=False),
        Binding("l", "lock", "Lock"),
        Binding("l", "unlock", "Unlock"),
        Binding("d", "deactivate", "Deactivate"),
        Binding("d", "reactivate", "Reactivate"),
        Binding("x", "remove", "Delete"),
    ]

    def __init__(self, services: Services, context: Context, user: User) -> None:
        super().__init__(services, context)
        self.user = user
        self.memberships: list[str] | None = None

    def compose(self) -> ComposeResult:
        yield from self.title_bar(f"User {self.user.login_name}", self.user.display_name)
        with VerticalScroll(id="user-body"):
            yield Static(describe_user(self.user), id="user-details", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        if self.can("user.membership.read", self.resource):
            self.call(self.load_memberships, self.show_memberships)

    async def load_memberships(self) -> list[str]:
        memberships = await self.services.memberships.list_user_memberships(
            self.context, self.user.id
        )
        names = Names(self.services, self.context)
        await names.load_orgs(m.org_id for m in memberships)
        return [describe_membership(m, names) for m in memberships]

    def show_memberships(self, memberships: list[str]) -> None:
        self.memberships = memberships
        self.show_user(self.user)

    @property
    def resource(self) -> Resource:
        return Resource(org_id=self.user.org_id)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        user = self.user
        human = user.kind is UserKind.HUMAN
        write = self.can("user.write", self.resource)
        match action:
            case "edit":
                return human and write
            case "set_password":
                return human and self.can("user.credential.write", self.resource)
            case "init_code":
                return human and write and user.state is UserState.INITIAL
            case "credentials":
                return not human and self.can("user.read", self.resource)
            case "authenticators":
                return human and self.can("user.read", self.resource)
            case "authorizations":
                return self.can("user.grant.read", self.resource)
            case "history":
                return self.can("events.read", self.resource)
            case "lock":
                return write and user.state in (UserState.ACTIVE, UserState.INITIAL)
            case "unlock":
                return write and user.state is UserState.LOCKED
            case "deactivate":
                return write and user.state in (UserState.ACTIVE, UserState.LOCKED)
            case "reactivate":
                return write and user.state is UserState.INACTIVE
            case "remove":
                return self.can("user.delete", self.resource)
        return True

    def show_user(self, user: User) -> None:
        self.user = user
        self.query_one("#section-title", Static).update(f"User {user.login_name}")
        self.query_one("#section-detail", Static).update(user.display_name)
        self.query_one("#user-details", Static).update(describe_user(user, self.memberships))
        self.refresh_bindings()

    def saved(self, user: User) -> None:
        self.notify(f"User {user.login_name} is {user.state.value}.", title="Saved", markup=False)
        self.show_user(user)

    def refresh_user(self) -> None:
        self.call(lambda: self.services.users.get_user(self.context, self.user.id), self.show_user)

    def action_edit(self) -> None:
        self.form(
            f"Profile of {self.user.login_name}",
            profile_fields(self.user),
            self.save_profile,
            self.saved,
        )

    async def save_profile(self, values: Values) -> User:
        """Send only what changed; each step that succeeds becomes the new baseline, so a
        retry after an error on one field does not repeat the others."""
        users, ctx, user_id = self.services.users, self.context, self.user.id
        user = self.user
        if values["username"].strip() != user.username:
            user = self.user = await users.change_username(ctx, user_id, values["username"])
        changed = {
            name: values[name] for name in PROFILE_FIELDS if values[name] != getattr(user, name)
        }
        if changed:
            user = self.user = await users.update_profile(ctx, user_id, ProfileChange(**changed))
        if (values["email"].strip(), values["email_verified"]) != (user.email, user.email_verified):
            user = self.user = await users.change_email(
                ctx, user_id, values["email"], verified=values["email_verified"]
            )
        if (values["phone"].strip(), values["phone_verified"]) != (user.phone, user.phone_verified):
            user = self.user = await users.change_phone(
                ctx, user_id, values["phone"], verified=values["phone_verified"]
            )
        return user

    def action_set_password(self) -> None:
        async def set_password(values: Values) -> None:
            await self.services.users.set_password(
                self.context,
                self.user.id,
                values["password"],
                change_required=values["change_required"],
            )

        def done(_: None) -> None:
            self.notify(
                f"The password of {self.user.login_name} is set.", title="Saved", markup=False
            )
            self.refresh_user()

        self.form(
            f"Set the password of {self.user.login_name}",
            [
                Field("password", "New password", kind="password"),
                Field("change_required", "Must change it at next sign-in", True, kind="check"),
            ],
            set_password,
            done,
        )

    def action_init_code(self) -> None:
        """A new initialisation code: mailed when the user has an address, else shown."""

        def issued(issued: IssuedInitCode) -> None:
            show_init_code(self, self.user, issued)

        self.call(lambda: self.services.users.issue_init_code(self.context, self.user.id), issued)

    def action_lock(self) -> None:
        async def lock() -> User:
            return await self.services.users.lock_user(self.context, self.user.id)

        self.confirm(
            "Lock a user",
            f"Lock {self.user.login_name}? They cannot sign in until unlocked.",
            lock,
            self.saved,
            action="Lock",
        )

    def action_unlock(self) -> None:
        self.call(lambda: self.services.users.unlock_user(self.context, self.user.id), self.saved)

    def action_deactivate(self) -> None:
        async def deactivate() -> User:
            return await self.services.users.deactivate_user(self.context, self.user.id)

        self.confirm(
            "Deactivate a user",
            f"Deactivate {self.user.login_name}? They cannot sign in until reactivated.",
            deactivate,
            self.saved,
            action="Deactivate",
        )

    def action_reactivate(self) -> None:
        self.call(
            lambda: self.services.users.reactivate_user(self.context, self.user.id), self.saved
        )

    def action_remove(self) -> None:
        async def remove() -> None:
            await self.services.users.remove_user(self.context, self.user.id)

        def removed(_: Any) -> None:
            self.notify(f"User {self.user.login_name} is deleted.", title="Deleted", markup=False)
            self.dismiss(None)

        self.confirm(
            "Delete a user",
            f"Delete {self.user.login_name} with their manager roles, authorizations, keys and "
            "tokens? This cannot be undone.",
            remove,
            removed,
        )

    def action_credentials(self) -> None:
        self.app.push_screen(
            MachineCredentialsScreen(self.services, self.context, self.user),
            lambda _: self.refresh_user(),
        )

    def action_authenticators(self) -> None:
        self.open(AuthenticatorsScreen(self.services, self.context, self.user))

    def action_authorizations(self) -> None:
        self.open(UserGrantsScreen(self.services, self.context, user=self.user))

    def action_history(self) -> None:
        self.open(
            EventsScreen(
                self.services,
                self.context,
                aggregate_id=self.user.id,
                label=f"user {self.user.login_name}",
            )
        )


def show_init_code(screen: SectionScreen, user: User, issued: IssuedInitCode) -> None:
    """Say where a new initialisation code went; a code for a user without an address is
    shown once, with its link, for the manager to hand over."""
    if issued.mailed_to:
        screen.notify(
            f"The initialisation mail to {issued.mailed_to} is queued; the code before it "
            "no longer works.",
            title="Initialisation code",
            markup=False,
        )
        return
    screen.show_secret(
        f"Initialisation code of {user.login_name}",
        "Code",
        issued.code,
        details=[
            ("Valid for", "72 hours"),
            ("Link", issued.link),
            ("Use", "the user opens the link (or enters the code there) and sets a password"),
        ],
    )
