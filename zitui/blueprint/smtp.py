"""Applying the instance's mail server settings."""

from __future__ import annotations

import hmac

from zitui.blueprint.specs import SMTP_KEYS, SmtpSpec
from zitui.blueprint.state import ApplyState, at
from zitui.core.smtp import SmtpSettings


async def apply_smtp(state: ApplyState, spec: SmtpSpec) -> None:
    """Set the mail server when it differs from the file.

    A file without a password keeps the stored one (it may have been set in the TUI, so it
    need not live in the file); a file with one compares it with the stored password.
    """
    smtp, ctx = state.services.smtp, state.ctx
    with at(spec.path, SMTP_KEYS, aliases={"sender": "from"}):
        current = await smtp.get_smtp(ctx)
        wanted = (spec.host, spec.port, spec.sender, spec.tls, spec.user)
        if current is not None:
            same = (current.host, current.port, current.sender, current.tls, current.user)
            if same == wanted and not await _password_differs(state, spec):
                return
        await smtp.set_smtp(
            ctx,
            SmtpSettings(
                host=spec.host,
                port=spec.port,
                sender=spec.sender,
                tls=spec.tls,
                user=spec.user,
                password=spec.password or None,
            ),
        )
    if current is None:
        state.created(f"mail server {spec.host}:{spec.port}")
    else:
        state.changed(f"mail server {spec.host}:{spec.port}")


async def _password_differs(state: ApplyState, spec: SmtpSpec) -> bool:
    if not spec.password:
        return False
    stored = await state.services.smtp.smtp_credentials()
    if stored is None:
        return True
    return not hmac.compare_digest(stored.password.encode(), spec.password.encode())
