"""Sign-in metrics counted from the audit events of sign-in checks.

Every sign-in check is audited (zitui/core/audit.py), so the audit log is the one place that
sees them all: `note_check` turns a check's event into a metric once its transaction has
committed (a check that rolled back did not happen). The failures without an event, a name no
account has and a throttled attempt, are counted by the password checker itself.
"""

from __future__ import annotations

from typing import Any

from zitui import metrics
from zitui.store import Repositories

_PREFIX = "user.human."
_SUCCEEDED = ".check.succeeded"
_FAILED = ".check.failed"
# The first factor's successes: each is one sign-in, whatever second factor follows.
SIGN_IN_EVENTS = {
    "user.human.password.check.succeeded": "password",
    "user.human.passwordless.check.succeeded": "passkey",
    "user.human.externallogin.check.succeeded": "external_idp",
}
PASSWORD_FAILED = "user.human.password.check.failed"
UNKNOWN_USER = "unknown_user"
THROTTLED = "throttled"


def note_check(tx: Repositories, event_type: str, payload: dict[str, Any]) -> None:
    """Count the sign-in check `event_type` records, after `tx` commits; other events pass."""
    if not event_type.startswith(_PREFIX):
        return
    method = SIGN_IN_EVENTS.get(event_type)
    if method is not None:
        tx.after_commit(lambda: metrics.count_sign_in(method))
    elif event_type == PASSWORD_FAILED:
        reason = _password_failure(payload)
        tx.after_commit(lambda: metrics.count_sign_in_failure(reason))
    elif event_type.endswith(_SUCCEEDED):
        factor = event_type[len(_PREFIX) : -len(_SUCCEEDED)]
        tx.after_commit(lambda: metrics.count_factor_check(factor, "succeeded"))
    elif event_type.endswith(_FAILED):
        factor = event_type[len(_PREFIX) : -len(_FAILED)]
        tx.after_commit(lambda: _second_factor_failed(factor))


def _password_failure(payload: dict[str, Any]) -> str:
    """ "locked", "inactive" or "org_inactive" for a user who may not sign in; otherwise a
    wrong password (also the one that just locked the account)."""
    refused = payload.get("refused")
    return str(refused) if refused else "wrong_password"


def _second_factor_failed(factor: str) -> None:
    metrics.count_factor_check(factor, "failed")
    metrics.count_sign_in_failure("second_factor")
