"""Messages a screen posts when the operator signs in or out; the app routes on them."""

from __future__ import annotations

from textual.message import Message

from zitui.core.context import Context


class SignedIn(Message):
    """The operator proved their password; they may still have to change it."""

    def __init__(self, context: Context, *, password_change_required: bool = False) -> None:
        super().__init__()
        self.context = context
        self.password_change_required = password_change_required


class SignedOut(Message):
    """The operator left; the console returns to the sign-in form."""
