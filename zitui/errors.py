"""The domain error hierarchy shared by every layer, with stable codes.

Each raise site passes a stable `code` (also the i18n key of its message). One table,
`HTTP_STATUS`, maps the kinds to HTTP status codes; the TUI shows `message` in a
notification and hosted pages put it on `field` when there is one.
"""

from __future__ import annotations

from typing import ClassVar


class ZituiError(Exception):
    """Base of every error a user or client may see."""

    kind: ClassVar[str] = "internal"

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str]:
        body = {"kind": self.kind, "code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


class InvalidArgument(ZituiError):
    kind = "invalid_argument"


class NotFound(ZituiError):
    kind = "not_found"


class AlreadyExists(ZituiError):
    kind = "already_exists"


class PermissionDenied(ZituiError):
    kind = "permission_denied"


class Unauthenticated(ZituiError):
    kind = "unauthenticated"


class PreconditionFailed(ZituiError):
    kind = "precondition_failed"


class FlowExpired(ZituiError):
    kind = "flow_expired"


class ReauthRequired(ZituiError):
    kind = "reauth_required"


class RetryLater(ZituiError):
    """Refused for now; `retry_after` seconds from now the same request may succeed."""

    def __init__(self, code: str, message: str, *, retry_after: int) -> None:
        super().__init__(code, message)
        self.retry_after = max(1, retry_after)


class RateLimited(RetryLater):
    """Too many attempts for a login name or from an address (throttling)."""

    kind = "rate_limited"


class Overloaded(RetryLater):
    """The server is busy (a full queue of password hashes)."""

    kind = "overloaded"


class StoreUnavailable(ZituiError):
    """The data directory or database cannot be used (locked, corrupt, foreign, unwritable)."""

    kind = "unavailable"


class UpstreamUnavailable(ZituiError):
    """A server zitui depends on for this request (an external identity provider) could not
    be reached, timed out, failed, or answered with something that is not its protocol."""

    kind = "upstream_unavailable"


class WrongMasterKey(ZituiError):
    """The master key does not open the secrets of this store."""

    kind = "wrong_master_key"


HTTP_STATUS: dict[str, int] = {
    InvalidArgument.kind: 400,
    Unauthenticated.kind: 401,
    PermissionDenied.kind: 403,
    NotFound.kind: 404,
    AlreadyExists.kind: 409,
    FlowExpired.kind: 410,
    PreconditionFailed.kind: 412,
    ReauthRequired.kind: 401,
    RateLimited.kind: 429,
    Overloaded.kind: 503,
    StoreUnavailable.kind: 503,
    UpstreamUnavailable.kind: 502,
    WrongMasterKey.kind: 503,
    ZituiError.kind: 500,
}


def http_status(error: ZituiError) -> int:
    return HTTP_STATUS.get(error.kind, 500)
