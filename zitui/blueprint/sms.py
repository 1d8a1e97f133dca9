"""Applying the instance's SMS provider."""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from zitui.blueprint.specs import SMS_KEYS, SmsSpec
from zitui.blueprint.state import ApplyState, at
from zitui.core.sms import HTTP, SmsSettings


async def apply_sms(state: ApplyState, spec: SmsSpec) -> None:
    """Set the SMS provider when it differs from the file.

    As with the mail server's password, a file without a token keeps the stored one (it may
    have been set in the TUI, so it need not live in the file); a file with one compares it
    with the stored token.
    """
    service, ctx = state.services.sms, state.ctx
    with at(spec.path, SMS_KEYS, aliases={"token": spec.token_key}):
        current = await service.get_sms(ctx)
        wanted = (
            spec.kind,
            spec.url,
            spec.account_sid,
            spec.sender,
            spec.messaging_service_sid,
            spec.base_url,
        )
        if current is not None:
            same = (
                current.kind,
                current.url,
                current.account_sid,
                current.sender,
                current.messaging_service_sid,
                current.base_url,
            )
            if same == wanted and not await _token_differs(state, spec):
                return
        await service.set_sms(
            ctx,
            SmsSettings(
                kind=spec.kind,
                url=spec.url,
                token=spec.token or None,
                account_sid=spec.account_sid,
                sender=spec.sender,
                messaging_service_sid=spec.messaging_service_sid,
                base_url=spec.base_url,
            ),
        )
    if current is None:
        state.created(_label(spec))
    else:
        state.changed(_label(spec))


def _label(spec: SmsSpec) -> str:
    """The kind and the provider's host: a URL's path or query may carry more than a log
    line should show."""
    host = urlsplit(spec.url if spec.kind == HTTP else spec.base_url).hostname
    return f"SMS provider {spec.kind} {host}"


async def _token_differs(state: ApplyState, spec: SmsSpec) -> bool:
    if not spec.token:
        return False
    stored = await state.services.sms.sms_credentials()
    if stored is None:
        return True
    return not hmac.compare_digest(stored.token.encode(), spec.token.encode())
