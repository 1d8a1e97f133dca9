"""The sign-in form for operators (managers only): login name, password, and a code of the
authenticator app or a recovery code once core asks for the second factor."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static
from textual.worker import Worker, WorkerState

from zitui.core.auth import OperatorLogin
from zitui.core.context import RequestMeta
from zitui.core.services import Services
from zitui.errors import ZituiError
from zitui.screens.feedback import report
from zitui.screens.session import SignedIn


class LoginScreen(Screen[None]):
    CSS_PATH = Path(__file__).with_name("login.tcss")

    def __init__(self, services: Services, *, login_name: str = "") -> None:
        super().__init__()
        self.services = services
        self.login_name = login_name

    def compose(self) -> ComposeResult:
        with Vertical(id="login-form"):
            yield Static("zitui operator console", id="login-title")
            yield Label("Username")
            yield Input(self.login_name, placeholder="login name", id="username")
            yield Label("Password")
            yield Input(password=True, placeholder="password", id="password")
            yield Label("Code", id="code-label", classes="second-factor")
            yield Input(
                placeholder="authenticator code or recovery code",
                id="code",
                classes="second-factor",
            )
            yield Button("Sign in", variant="primary", id="sign-in")
            yield Static("", id="login-message", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#password" if self.login_name else "#username", Input).focus()

    @on(Input.Submitted, "#username")
    def next_field(self) -> None:
        self.query_one("#password", Input).focus()

    @on(Input.Submitted, "#password")
    @on(Input.Submitted, "#code")
    @on(Button.Pressed, "#sign-in")
    def submit(self) -> None:
        login_name = self.query_one("#username", Input).value.strip()
        if not login_name:
            self.show_message("Enter your username.")
            self.query_one("#username", Input).focus()
            return
        self.show_message("")
        self.query_one("#login-form").disabled = True
        code = self.query_one("#code", Input).value
        self.sign_in(login_name, self.query_one("#password", Input).value, code)

    @work(exclusive=True, exit_on_error=False)
    async def sign_in(self, login_name: str, password: str, code: str) -> OperatorLogin:
        return await self.services.auth.login_operator(
            login_name, password, RequestMeta(origin="tui"), code=code
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if not event.worker.is_finished:
            return
        self.query_one("#login-form").disabled = False
        if event.state is WorkerState.SUCCESS:
            login = cast(OperatorLogin, event.worker.result)
            if login.password_expires_in_days is not None:
                self.app.notify(
                    f"Your password expires in {login.password_expires_in_days} day(s); "
                    "change it before then.",
                    title="Password expiry",
                    severity="warning",
                )
            self.post_message(
                SignedIn(login.context, password_change_required=login.password_change_required)
            )
        elif event.state is WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.show_message(report(self, error))
            code = self.query_one("#code", Input)
            code.clear()
            if isinstance(error, ZituiError) and error.field == "code":
                # The password was right; the second factor is asked for.
                for widget in self.query(".second-factor"):
                    widget.display = True
                code.focus()
                return
            password = self.query_one("#password", Input)
            password.clear()
            password.focus()

    def show_message(self, text: str) -> None:
        self.query_one("#login-message", Static).update(text)
