"""The forced password change after signing in with a one-time or reset password."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static
from textual.worker import Worker, WorkerState

from zitui.core.context import Context
from zitui.core.services import Services
from zitui.errors import ZituiError
from zitui.screens.feedback import report
from zitui.screens.session import SignedIn, SignedOut

# Ids match the `field` the core names in InvalidArgument, so its messages land in place.
FIELDS = (
    ("current_password", "Current password"),
    ("new_password", "New password"),
    ("repeat_password", "Repeat the new password"),
)
FIELD_IDS = frozenset(field for field, _ in FIELDS)
MISMATCH = "The two new passwords differ."


class ChangePasswordScreen(Screen[None]):
    CSS_PATH = Path(__file__).with_name("change_password.tcss")
    BINDINGS = [Binding("escape,ctrl+l", "sign_out", "Sign out")]

    def __init__(self, services: Services, context: Context) -> None:
        super().__init__()
        self.services = services
        self.context = context

    def compose(self) -> ComposeResult:
        login_name = self.context.actor.login_name if self.context.actor else ""
        with Vertical(id="change-form"):
            yield Static("Change your password", id="change-title")
            yield Static(
                f"Signed in as {login_name}. Choose a new password before you continue.",
                id="change-intro",
                markup=False,
            )
            for field, label in FIELDS:
                yield Label(label)
                yield Input(password=True, id=field)
                yield Static("", id=f"{field}-message", classes="field-message", markup=False)
            yield Button("Change password", variant="primary", id="change")
            yield Static("", id="change-message", markup=False)
        yield Footer(compact=True)

    @on(Input.Submitted, "#current_password")
    @on(Input.Submitted, "#new_password")
    def next_field(self, event: Input.Submitted) -> None:
        self.focus_next()

    @on(Input.Submitted, "#repeat_password")
    @on(Button.Pressed, "#change")
    def submit(self) -> None:
        self.clear_messages()
        current, new, repeat = (self.query_one(f"#{f}", Input).value for f, _ in FIELDS)
        if new != repeat:
            self.show_field_message("repeat_password", MISMATCH)
            self.query_one("#repeat_password", Input).focus()
            return
        self.query_one("#change-form").disabled = True
        self.change_password(current, new)

    @work(exclusive=True, exit_on_error=False)
    async def change_password(self, current: str, new: str) -> None:
        await self.services.users.change_own_password(self.context, current, new)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if not event.worker.is_finished:
            return
        self.query_one("#change-form").disabled = False
        if event.state is WorkerState.SUCCESS:
            self.notify("Your password is changed.", title="Password changed")
            self.post_message(SignedIn(self.context))
        elif event.state is WorkerState.ERROR and event.worker.error is not None:
            self.failed(event.worker.error)

    def failed(self, error: BaseException) -> None:
        text = report(self, error)
        field = error.field if isinstance(error, ZituiError) else None
        if field is None or field not in FIELD_IDS:
            self.query_one("#change-message", Static).update(text)
            return
        self.show_field_message(field, text)
        self.query_one(f"#{field}", Input).focus()

    def show_field_message(self, field: str, text: str) -> None:
        self.query_one(f"#{field}-message", Static).update(text)

    def clear_messages(self) -> None:
        for field, _ in FIELDS:
            self.show_field_message(field, "")
        self.query_one("#change-message", Static).update("")

    def action_sign_out(self) -> None:
        self.post_message(SignedOut())
