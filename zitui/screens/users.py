"""Users: search and page through them (server-side), filter by organisation, create."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer

from zitui.core.user_lifecycle import IssuedInitCode
from zitui.core.users import NewHumanUser
from zitui.records import Organization, Page, TokenType, User
from zitui.screens.form import Field, Values
from zitui.screens.paged_table import Column, Nouns, PagedTable
from zitui.screens.section import FILTER_BINDINGS, OrgFilteredScreen
from zitui.screens.user import UserScreen, show_init_code

USER_COLUMNS = (
    Column("Login name", lambda user: user.login_name),
    Column("Name", lambda user: user.display_name),
    Column("Email", lambda user: user.email),
    Column("Type", lambda user: user.kind.value),
    Column("State", lambda user: user.state.value),
)
USER_NOUNS = Nouns("users", "user")
GENDERS = (("unspecified", ""), ("female", "female"), ("male", "male"), ("diverse", "diverse"))


def human_user_fields() -> list[Field]:
    """The create form; ids are the names the core gives `ZituiError.field`."""
    return [
        Field("username", "Username"),
        Field("first_name", "First name"),
        Field("last_name", "Last name"),
        Field("display_name", "Display name", hint="Empty: first and last name."),
        Field("nickname", "Nickname"),
        Field("email", "Email"),
        Field("email_verified", "Email is verified", False, kind="check"),
        Field("phone", "Phone"),
        Field("preferred_language", "Preferred language", placeholder="e.g. en, de"),
        Field("gender", "Gender", "", kind="choice", choices=GENDERS),
        Field(
            "password",
            "Initial password",
            kind="password",
            hint="Empty: the user starts in state initial and sets one with a code.",
        ),
        Field(
            "password_change_required",
            "Must change the password at first sign-in",
            True,
            kind="check",
        ),
        Field(
            "init_code",
            "Without a password and email: show an initialisation code now",
            True,
            kind="check",
            hint="With an email address the user gets the initialisation mail.",
        ),
    ]


def new_human_user(values: Values) -> NewHumanUser:
    return NewHumanUser(
        username=values["username"],
        first_name=values["first_name"],
        last_name=values["last_name"],
        display_name=values["display_name"],
        nickname=values["nickname"],
        email=values["email"],
        email_verified=values["email_verified"],
        phone=values["phone"],
        preferred_language=values["preferred_language"].strip(),
        gender=values["gender"],
        password=values["password"],
        password_change_required=bool(values["password"]) and values["password_change_required"],
    )


class UsersScreen(OrgFilteredScreen):
    """All users the actor may read, or those of one organisation (`org`)."""

    CSS_PATH = Path(__file__).with_name("users.tcss")
    AUTO_FOCUS = "#users-table"
    ITEM = "user"
    TABLE_ID = "users"
    BINDINGS = [
        Binding("c", "create", "New user"),
        Binding("s", "create_machine", "New service user"),
        *FILTER_BINDINGS,
    ]

    def compose(self) -> ComposeResult:
        yield from self.title_bar("Users", self.describe_filter())
        yield PagedTable(
            self.load_page,
            USER_COLUMNS,
            USER_NOUNS,
            id="users",
            placeholder="Search by username, name or email (press /)",
        )
        yield Footer(compact=True)

    async def load_page(self, search: str, offset: int, limit: int) -> Page[User]:
        return await self.services.users.list_users(
            self.context,
            org_id=self.org.id if self.org else None,
            search=search,
            offset=offset,
            limit=limit,
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("create", "create_machine"):
            return self.may_create("user.write")
        allowed = self.filter_action_allowed(action)
        return True if allowed is None else allowed

    @on(PagedTable.Opened, "#users")
    def open_user(self, event: PagedTable.Opened) -> None:
        self.app.push_screen(UserScreen(self.services, self.context, event.item), self.closed)

    def closed(self, _: object) -> None:
        self.table.reload()

    def action_create(self) -> None:
        self.in_org(self.create_in)

    def action_create_machine(self) -> None:
        self.in_org(self.create_machine_in)

    def create_machine_in(self, org: Organization) -> None:
        async def create(values: Values) -> User:
            return await self.services.machines.create_machine_user(
                self.context,
                org.id,
                values["username"],
                values["name"],
                description=values["description"],
                access_token_type=TokenType(values["access_token_type"]),
            )

        fields = [
            Field("username", "Username", hint="Also the client id for a client secret."),
            Field("name", "Name"),
            Field("description", "Description"),
            Field(
                "access_token_type",
                "Access token",
                TokenType.BEARER.value,
                kind="choice",
                choices=(("Opaque (bearer)", TokenType.BEARER.value), ("JWT", TokenType.JWT.value)),
            ),
        ]
        self.form(
            f"New service user in {org.name}",
            fields,
            create,
            self.created,
            action="Create",
            intro="A machine user signs in with keys, tokens or a client secret.",
        )

    def create_in(self, org: Organization) -> None:
        async def create(values: Values) -> tuple[User, bool]:
            user = await self.services.users.create_human_user(
                self.context, org.id, new_human_user(values)
            )
            return user, values["init_code"] and not values["password"] and not user.email

        def created(result: tuple[User, bool]) -> None:
            user, wants_code = result
            self.created(user)
            if wants_code:
                self.issue_init_code(user)
            elif not user.email_verified and user.email:
                self.notify(f"A mail with a code is queued for {user.email}.", markup=False)

        self.form(f"New user in {org.name}", human_user_fields(), create, created, action="Create")

    def issue_init_code(self, user: User) -> None:
        """Issued after the user exists, so a failure here never repeats the creation."""

        def issued(issued: IssuedInitCode) -> None:
            show_init_code(self, user, issued)

        self.call(lambda: self.services.users.issue_init_code(self.context, user.id), issued)

    def created(self, user: User) -> None:
        self.notify(f"User {user.login_name} is created.", title="Created", markup=False)
        self.table.reload()
