"""How the console words errors, and the way screens hand them to the app's one handler."""

from __future__ import annotations

from typing import Protocol, cast

from textual.dom import DOMNode

from zitui.errors import RetryLater, ZituiError

UNEXPECTED = "Something unexpected went wrong; the details are in the log."

_TITLES = {
    "invalid_argument": "Check your input",
    "not_found": "Not found",
    "already_exists": "Already exists",
    "permission_denied": "Not allowed",
    "unauthenticated": "Sign-in failed",
    "precondition_failed": "Not possible now",
    "flow_expired": "Expired",
    "reauth_required": "Sign in again",
    "unavailable": "Store unavailable",
    "wrong_master_key": "Wrong master key",
    "rate_limited": "Too many attempts",
    "overloaded": "Server busy",
}


class ErrorHandler(Protocol):
    def show_error(self, error: BaseException) -> None: ...


def describe(error: BaseException) -> str:
    """The sentence a person sees for `error`; internals stay in the log."""
    if isinstance(error, RetryLater):
        return f"{error.message} (try again in {_duration(error.retry_after)})"
    return error.message if isinstance(error, ZituiError) else UNEXPECTED


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    return f"{-(-seconds // 60)} min"


def title_for(error: BaseException) -> str:
    if isinstance(error, ZituiError):
        return _TITLES.get(error.kind, "Error")
    return "Unexpected error"


def report(node: DOMNode, error: BaseException) -> str:
    """Give `error` to the app's handler; returns the text to show beside the form."""
    cast(ErrorHandler, node.app).show_error(error)
    return describe(error)
