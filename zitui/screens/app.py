"""The Textual app: routes between screens and owns the one handler for errors."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from textual import on
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from zitui.core.auth import OperatorLogin
from zitui.core.context import Context
from zitui.core.services import Services
from zitui.core.setup import SetupResult
from zitui.errors import ZituiError
from zitui.screens.change_password import ChangePasswordScreen
from zitui.screens.fatal import FatalScreen
from zitui.screens.feedback import describe, title_for
from zitui.screens.first_run import FirstRunScreen
from zitui.screens.help import HelpScreen, key_rows
from zitui.screens.home import HomeScreen
from zitui.screens.login import LoginScreen
from zitui.screens.session import SignedIn, SignedOut

log = logging.getLogger(__name__)
ERROR_TIMEOUT = 10.0
_NO_SERVICES = ZituiError("tui.no_services", "the console was started without a store")


class ZituiApp(App[None]):
    TITLE = "zitui"
    CSS_PATH = Path(__file__).with_name("app.tcss")
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("f1", "help", "Help"),
    ]

    def __init__(
        self,
        services: Services | None,
        *,
        setup: SetupResult | None = None,
        fatal: ZituiError | None = None,
        signed_in: OperatorLogin | None = None,
        leave_on_sign_out: bool = False,
    ) -> None:
        super().__init__()
        self.services = services
        self.setup = setup
        self.signed_in_as = signed_in
        self.leave_on_sign_out = leave_on_sign_out
        self.fatal = fatal if fatal is not None or services is not None else _NO_SERVICES

    def on_mount(self) -> None:
        if self.fatal is not None or self.services is None:
            self.push_screen(FatalScreen(self.fatal or _NO_SERVICES))
            return
        if self.signed_in_as is not None:
            login = self.signed_in_as
            self.push_screen(self._first_screen(login.context, login.password_change_required))
            return
        first_run = self.setup if self.setup and self.setup.generated_password else None
        login_name = first_run.admin_login_name if first_run else ""
        self.push_screen(LoginScreen(self.services, login_name=login_name))
        if first_run is not None:
            self.push_screen(FirstRunScreen(login_name, first_run.generated_password))

    def show_error(self, error: BaseException) -> None:
        """The one place a failed service call becomes something the operator sees."""
        if not isinstance(error, ZituiError):
            log.error("unexpected error in the operator console", exc_info=error)
        self.notify(
            describe(error),
            title=title_for(error),
            severity="error",
            timeout=ERROR_TIMEOUT,
            markup=False,
        )

    @on(SignedIn)
    def signed_in(self, message: SignedIn) -> None:
        self.show(self._first_screen(message.context, message.password_change_required))

    def _first_screen(self, context: Context, password_change_required: bool) -> Screen[Any]:
        assert self.services is not None
        if password_change_required:
            return ChangePasswordScreen(self.services, context)
        return HomeScreen(self.services, context)

    @on(SignedOut)
    def signed_out(self) -> None:
        assert self.services is not None
        if self.leave_on_sign_out:  # a console over SSH belongs to the one who signed in
            self.exit()
            return
        self.show(LoginScreen(self.services))

    def show(self, screen: Screen[Any]) -> None:
        """Replace every screen above the default one (modals included) with `screen`."""
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.switch_screen(screen)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(key_rows(self.screen)))

    async def action_quit(self) -> None:
        self.exit(return_code=1 if self.fatal is not None else 0)


def make_app(
    services: Services | None,
    *,
    setup: SetupResult | None = None,
    fatal: ZituiError | None = None,
    signed_in: OperatorLogin | None = None,
    leave_on_sign_out: bool = False,
) -> ZituiApp:
    """The console for the CLI and the tests; with `fatal`, it only explains why it cannot run.
    With `signed_in` it starts as that operator (the console over SSH), and with
    `leave_on_sign_out` signing out ends it instead of asking for another sign-in."""
    return ZituiApp(
        services,
        setup=setup,
        fatal=fatal,
        signed_in=signed_in,
        leave_on_sign_out=leave_on_sign_out,
    )
